//! `cargo xtask`: the project's single entry point for CI and chores. Standard library only.
//!
//! - `cargo xtask ci`: format check, clippy, all tests (criterion benches in test mode
//!   included), docs with warnings denied, and a fuzz smoke run of every target.
//! - `cargo xtask fuzz [--time SECS] [--asan] [TARGET...]`: runs fuzz targets.
//! - `cargo xtask demo`: two processes exchanging messages over an ipc endpoint.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("fuzz") => fuzz_cmd(&args[1..]),
        Some("demo") => demo(),
        _ => {
            eprintln!("usage: cargo xtask ci | fuzz [--time SECS] [--asan] [TARGET...] | demo");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    // xtask/ lives at the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(step: &str, mut cmd: Command) -> Result {
    eprintln!("\n==> {step}\n    {cmd:?}");
    let t = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: cannot start: {e}"))?;
    eprintln!("<== {step}: {status} in {:.1}s", t.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn ci() -> Result {
    let t = Instant::now();
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run("rustfmt", fmt)?;
    let mut fmt = cargo();
    fmt.args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]);
    run("rustfmt (fuzz)", fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run("clippy", clippy)?;
    // --all-targets runs unit, integration and example tests, and the criterion benches
    // once each in test mode; doc tests need their own run.
    let mut test = cargo();
    test.args(["test", "--workspace", "--all-targets"]);
    run("tests (and criterion benches in test mode)", test)?;
    let mut doctest = cargo();
    doctest.args(["test", "--workspace", "--doc"]);
    run("doc tests", doctest)?;
    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run("rustdoc", doc)?;
    fuzz(20, false, &[])?;
    eprintln!(
        "\nci: all steps passed in {:.0}s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn ensure_cargo_fuzz() -> Result {
    let ok = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Ok(());
    }
    let mut install = cargo();
    install.args(["install", "--locked", "cargo-fuzz"]);
    run("install cargo-fuzz", install)
}

fn fuzz_targets() -> Result<Vec<String>> {
    let manifest = std::fs::read_to_string(root().join("fuzz/Cargo.toml"))
        .map_err(|e| format!("fuzz/Cargo.toml: {e}"))?;
    // Every [[bin]] of the fuzz crate is a target; its name is the line after the header.
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin {
            if let Some(v) = line.strip_prefix("name = ") {
                targets.push(v.trim_matches('"').to_string());
            }
        }
    }
    Ok(targets)
}

/// Runs each target for `secs` seconds. New inputs go to a scratch directory, so the
/// committed corpus (replayed by `cargo test`) only changes when someone adds to it.
fn fuzz(secs: u64, asan: bool, only: &[String]) -> Result {
    ensure_cargo_fuzz()?;
    let targets = fuzz_targets()?;
    for t in only {
        if !targets.contains(t) {
            return Err(format!("unknown fuzz target {t}; known: {targets:?}"));
        }
    }
    let scratch = std::env::temp_dir().join(format!("zsock-fuzz-{}", std::process::id()));
    for t in targets
        .iter()
        .filter(|t| only.is_empty() || only.contains(t))
    {
        let new_inputs = scratch.join(t);
        std::fs::create_dir_all(&new_inputs).map_err(|e| e.to_string())?;
        let mut cmd = cargo();
        cmd.args(["fuzz", "run"]);
        if asan {
            // AddressSanitizer needs unstable rustc flags; RUSTC_BOOTSTRAP allows them on
            // the stable toolchain.
            cmd.env("RUSTC_BOOTSTRAP", "1");
        } else {
            cmd.args(["-s", "none"]);
        }
        cmd.arg(t)
            .arg(&new_inputs)
            .arg(root().join("fuzz/corpus").join(t))
            .arg("--")
            .arg(format!("-max_total_time={secs}"));
        if asan {
            cmd.arg("-malloc_limit_mb=128");
        }
        run(
            &format!("fuzz {t} ({secs}s{})", if asan { ", asan" } else { "" }),
            cmd,
        )?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

fn fuzz_cmd(args: &[String]) -> Result {
    let mut secs = 60;
    let mut asan = false;
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--asan" => asan = true,
            "--time" => {
                secs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--time takes a number of seconds")?;
            }
            t => only.push(t.to_string()),
        }
    }
    fuzz(secs, asan, &only)
}

fn demo() -> Result {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "zmtp-codec",
        "--example",
        "ipc_exchange",
    ]);
    run("demo: two processes over ipc", cmd)
}
