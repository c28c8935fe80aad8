//! `cargo xtask soak [--minutes N] [ZSOCK-SOAK OPTIONS]`: builds the soak crate (`soak/`,
//! binary `zsock-soak`) in release and runs it: TESTING.md case 24 and the long forms
//! of cases 14 and 20. Default 3 minutes. Not part of `cargo xtask ci`.
//!
//! Other options go to `zsock-soak` as given (`--connections N`, `--connectors N`,
//! `--rate N`, `--seed N`, `--seconds N`).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::{cargo, root, Result};

/// Time allowed beyond the soak itself: setting up 5 000 connections and stopping cleanly.
const SLACK: Duration = Duration::from_secs(600);

pub(crate) fn run(args: &[String]) -> Result {
    let mut minutes = 3.0_f64;
    let mut pass = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--minutes" {
            minutes = it
                .next()
                .and_then(|v| v.parse().ok())
                .filter(|m: &f64| *m > 0.0)
                .ok_or("--minutes takes a positive number")?;
        } else {
            pass.push(a.clone());
        }
    }
    let mut build = cargo();
    build.args(["build", "--release", "-p", "zsock-soak"]);
    crate::run("build zsock-soak (release)", build)?;

    let exe = root().join("target/release/zsock-soak");
    let mut soak = Command::new(&exe);
    soak.arg("--minutes").arg(minutes.to_string()).args(&pass);
    eprintln!("\n==> soak for {minutes} min\n    {soak:?}");
    let t = Instant::now();
    let mut child = soak
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let limit = Duration::from_secs_f64(minutes * 60.0) + SLACK;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the soak did not finish within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("<== soak: {status} in {:.0}s", t.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("the soak failed ({status})"))
    }
}
