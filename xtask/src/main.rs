//! `cargo xtask`: the project's single entry point for CI and chores. Standard library only.
//!
//! - `cargo xtask ci`: format check, clippy, all tests (criterion benches in test mode
//!   included), docs with warnings denied, and a fuzz smoke run of every target.
//! - `cargo xtask fuzz [--time SECS] [--asan] [TARGET...]`: runs fuzz targets.
//! - `cargo xtask demo`: two processes exchanging messages over an ipc endpoint.
//! - `cargo xtask bench [--quick] [--scale | --async | --inproc | --curve]`: zsock beside
//!   libzmq, the zeromq crate, OMQ.rs and raw AF_UNIX, side by side, and the scale scenarios
//!   beside libzmq (see BENCHMARKS.md); `--async`: zsock-tokio beside the async peers on both
//!   tokio runtimes, and what an async receiver costs in CPU idle and at 1,000 msg/s;
//!   `--inproc`: zsock beside libzmq and OMQ.rs over inproc://, both sides in one process;
//!   `--curve`: zsock with CURVE beside the system's libzmq with CURVE.
//! - `cargo xtask soak [--minutes N]`: kills, restarts and hostile peers for minutes.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod bench;
mod soak;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("fuzz") => fuzz_cmd(&args[1..]),
        Some("demo") => demo(),
        Some("bench") => bench::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | fuzz [--time SECS] [--asan] [TARGET...] | demo \
                 | bench [--quick] [--scale | --async | --inproc | --curve] | soak [--minutes N]"
            );
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
    ensure_system_libzmq()?;
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
    run_examples()?;
    demo()?;
    // One short repetition of every benchmark cell, over each transport and for the async,
    // inproc and CURVE rows, so the harness cannot rot (the CURVE rows load the system's
    // libzmq5, which ensure_system_libzmq installed).
    bench::run(&["--quick".to_string()])?;
    bench::run(&["--quick".into(), "--transport".into(), "tcp".into()])?;
    bench::run(&["--quick".into(), "--async".into()])?;
    bench::run(&["--quick".into(), "--inproc".into()])?;
    bench::run(&["--quick".into(), "--curve".into()])?;
    fuzz(20, false, &[])?;
    eprintln!(
        "\nci: all steps passed in {:.0}s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs every example of every crate; each must exit 0 within two minutes.
fn run_examples() -> Result {
    for krate in ["zmtp-codec", "zsock", "zsock-tokio"] {
        let dir = root().join(krate).join("examples");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name().into_string().ok()?;
                n.strip_suffix(".rs").map(str::to_string)
            })
            .collect();
        names.sort();
        for name in names {
            let mut cmd = cargo();
            cmd.args(["run", "--quiet", "-p", krate, "--example", &name]);
            run_with_deadline(&format!("example {krate}/{name}"), cmd, 120)?;
        }
    }
    Ok(())
}

fn run_with_deadline(step: &str, mut cmd: Command, secs: u64) -> Result {
    eprintln!("\n==> {step}");
    let t = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{step}: cannot start: {e}"))?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            eprintln!("<== {step}: {status} in {:.1}s", t.elapsed().as_secs_f64());
            return if status.success() {
                Ok(())
            } else {
                Err(format!("{step} failed ({status})"))
            };
        }
        if t.elapsed().as_secs() > secs {
            let _ = child.kill();
            return Err(format!("{step} did not finish within {secs}s"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The CURVE interop tests and the benchmark's CURVE rows (`bench-libzmq-curve`) load the
/// system's libzmq, built with CURVE: Debian's libzmq5 (the `zmq` crate's own libzmq is
/// built without it). Installs it when it is missing.
fn ensure_system_libzmq() -> Result {
    let found = Command::new("ldconfig")
        .arg("-p")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libzmq.so.5 "));
    if found {
        return Ok(());
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    run("apt-get update (for libzmq5)", update)?;
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "-qq", "libzmq5"]);
    run("install libzmq5 (CURVE interop tests)", install)
        .map_err(|e| format!("{e}: the CURVE interop tests need Debian's libzmq5"))
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

/// The README's main job: two zcat processes exchange messages over an ipc endpoint.
fn demo() -> Result {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    let mut build = cargo();
    build.args(["build", "--quiet", "--release", "-p", "zcat"]);
    run("build zcat", build)?;
    let zcat = root().join("target/release/zcat");
    eprintln!("\n==> demo: a PULL binds ipc://* and a PUSH in another process sends 5 messages");
    let mut pull = Command::new(&zcat)
        .args(["pull", "--bind", "ipc://*", "--count", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start zcat pull: {e}"))?;
    let mut err = BufReader::new(pull.stderr.take().ok_or("no stderr")?);
    let mut line = String::new();
    err.read_line(&mut line).map_err(|e| e.to_string())?;
    let endpoint = line
        .trim()
        .strip_prefix("bound ")
        .ok_or_else(|| format!("zcat pull said: {line}"))?
        .to_string();
    eprintln!("    pull (pid {}) bound {endpoint}", pull.id());
    let mut push = Command::new(&zcat)
        .args(["push", "--connect", &endpoint])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start zcat push: {e}"))?;
    eprintln!("    push (pid {}) connected; sending:", push.id());
    {
        let mut stdin = push.stdin.take().ok_or("no stdin")?;
        for i in 1..=5 {
            let msg = format!("message {i}\tfrom pid {}\t0x{:02x}ff", push.id(), i);
            eprintln!("      > {msg}");
            writeln!(stdin, "{msg}").map_err(|e| e.to_string())?;
        }
    }
    let out = BufReader::new(pull.stdout.take().ok_or("no stdout")?);
    eprintln!("    pull received:");
    for l in out.lines() {
        eprintln!("      < {}", l.map_err(|e| e.to_string())?);
    }
    let a = push.wait().map_err(|e| e.to_string())?;
    let b = pull.wait().map_err(|e| e.to_string())?;
    if !a.success() || !b.success() {
        return Err(format!("zcat exited with {a} (push) and {b} (pull)"));
    }
    let gone = !Path::new(endpoint.trim_start_matches("ipc://")).exists();
    eprintln!("<== demo: both exited 0; socket file removed: {gone}");
    if gone {
        Ok(())
    } else {
        Err("the socket file was left behind".into())
    }
}
