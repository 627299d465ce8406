//! One bad driver loses nothing: plugins that crash, abort, hang or lie, built from the C
//! skeleton through the real ABI (`backends/plugin/tests/c/variant.c`, one fault per
//! `-D`), each run beside the CPU backend in worker processes. Every test asserts the
//! CPU's rows are all there and passed, the faulty device's rows say what happened, the
//! JSON is whole, and the exit code is 1. Also: Ctrl-C mid-run saves what finished and
//! exits 130.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::scratch;
use serde_json::Value;

/// Four cases per device, so three deaths leave one case to be skipped.
const SHAPES: [&str; 4] = ["n=4096", "n=8192", "n=16384", "n=32768"];

fn faulty(dir: &Path, fault: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = dir.join(format!("lib{}.so", fault.to_lowercase()));
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror"])
        .arg("-Wno-unused-function")
        .arg(format!("-D{fault}"))
        .arg("-I")
        .arg(root.join("hal/include"))
        .arg(root.join("backends/plugin/tests/c/variant.c"))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("cc runs");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    out
}

/// Runs the faulty plugin and the CPU, in workers with a 3 s watchdog, or `--in-process`.
fn run_beside_cpu(fault: &str, in_process: bool) -> (Output, Value) {
    let dir = scratch(&format!("fault-{}", fault.to_lowercase()));
    let lib = faulty(&dir, fault);
    let json = dir.join("run.json");
    let mut args: Vec<String> = [
        "run",
        "--plugin",
        lib.to_str().unwrap(),
        "--backend",
        "cpu,skeleton",
        "--scale",
        "smoke",
        "--workload",
        "stream.copy",
        "--dtype",
        "f32",
        "--progress",
        "off",
        "--json",
        json.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for s in SHAPES {
        args.extend(["--shape".into(), s.into()]);
    }
    if in_process {
        args.push("--in-process".into());
    } else {
        args.extend(["--case-timeout".into(), "3".into()]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_halbench"))
        .args(&args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&json).expect("the JSON was written");
    let doc: Value = serde_json::from_str(&text).expect("the JSON is whole");
    (out, doc)
}

fn rows<'a>(doc: &'a Value, device_prefix: &str) -> Vec<&'a Value> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["device"].as_str().unwrap().starts_with(device_prefix))
        .collect()
}

/// The CPU's four cases all passed, and the exit code is 1.
fn cpu_survived(out: &Output, doc: &Value) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cpu = rows(doc, "cpu:");
    assert_eq!(cpu.len(), SHAPES.len(), "{cpu:?}");
    assert!(cpu.iter().all(|r| r["status"] == "passed"), "{cpu:?}");
}

fn reasons(doc: &Value) -> Vec<(String, String)> {
    rows(doc, "skeleton")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Three deaths, each naming the signal and the case, then the last case skipped.
fn died_three_times(doc: &Value, signal: &str) {
    let r = reasons(doc);
    assert_eq!(r.len(), 4, "{r:?}");
    for (i, (status, reason)) in r.iter().take(3).enumerate() {
        assert_eq!(status, "error");
        let case = format!("in skeleton:0/stream.copy/default/f32/{}", SHAPES[i]);
        assert!(
            reason.contains(signal) && reason.contains(&case),
            "{reason}"
        );
    }
    assert_eq!(r[3].0, "skipped");
    assert!(r[3].1.contains("died 3 times"), "{}", r[3].1);
}

#[test]
fn a_segfault_in_launch_loses_only_that_case() {
    let (out, doc) = run_beside_cpu("SEGV_LAUNCH", false);
    cpu_survived(&out, &doc);
    died_three_times(&doc, "worker killed by signal 11 (SIGSEGV");
}

#[test]
fn an_abort_in_read_loses_only_that_case() {
    let (out, doc) = run_beside_cpu("ABORT_READ", false);
    cpu_survived(&out, &doc);
    died_three_times(&doc, "worker killed by signal 6 (SIGABRT");
}

#[test]
fn a_hang_in_sync_is_cut_off_by_the_watchdog() {
    let (out, doc) = run_beside_cpu("HANG_SYNC", false);
    cpu_survived(&out, &doc);
    died_three_times(&doc, "timed out after 3 s");
}

#[test]
fn a_devices_call_that_never_returns_fails_that_backend_alone() {
    let (out, doc) = run_beside_cpu("HANG_DEVICES", false);
    cpu_survived(&out, &doc);
    let r = reasons(&doc);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, "error");
    assert!(
        r[0].1.contains("timed out after 3 s while listing devices"),
        "{r:?}"
    );
}

#[test]
fn a_handle_the_plugin_never_issued_is_an_error_row() {
    let (out, doc) = run_beside_cpu("BOGUS_HANDLE", false);
    cpu_survived(&out, &doc);
    let r = reasons(&doc);
    assert_eq!(r.len(), 4, "{r:?}");
    assert!(
        r.iter()
            .all(|(s, why)| s == "error" && why.contains("no such buffer")),
        "{r:?}"
    );
}

#[test]
fn a_null_error_message_is_reported_as_missing() {
    let (out, doc) = run_beside_cpu("NULL_MESSAGE", false);
    cpu_survived(&out, &doc);
    let r = reasons(&doc);
    assert_eq!(r.len(), 4, "{r:?}");
    assert!(
        r.iter()
            .all(|(s, why)| s == "error" && why.contains("gave no message")),
        "{r:?}"
    );
}

/// The same plugin in-process: a fault that is an error return is still an error row
/// (a crash would now take the run down: that is what workers are for).
#[test]
fn in_process_mode_runs_the_same_cases() {
    let (out, doc) = run_beside_cpu("BOGUS_HANDLE", true);
    cpu_survived(&out, &doc);
    let r = reasons(&doc);
    assert_eq!(r.len(), 4, "{r:?}");
    assert!(
        r.iter()
            .all(|(s, why)| s == "error" && why.contains("no such buffer")),
        "{r:?}"
    );
    let both = common::halbench(&["run", "--in-process", "--case-timeout", "3"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn a_bad_case_timeout_is_a_usage_error() {
    for t in ["0", "-1", "nan", "1e9"] {
        let out = common::halbench(&["run", "--backend", "cpu", "--case-timeout", t]);
        assert_eq!(out.status.code(), Some(2), "--case-timeout {t}");
    }
}

/// SIGINT while the hanging plugin holds the run: what finished is saved, whole, and the
/// run exits 130 within moments (the worker is killed, not waited for).
#[test]
fn ctrl_c_saves_what_finished_and_exits_130() {
    let dir = scratch("fault-sigint");
    let lib = faulty(&dir, "HANG_SYNC");
    let json = dir.join("run.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_halbench"))
        .args([
            "run",
            "--plugin",
            lib.to_str().unwrap(),
            "--backend",
            "cpu,skeleton",
        ])
        .args([
            "--scale",
            "smoke",
            "--workload",
            "stream.copy",
            "--dtype",
            "f32",
        ])
        .args(["--progress", "lines", "--json", json.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The CPU's first case finishes at once; the skeleton's first one hangs (no timeout
    // given: the default is minutes).
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("cpu:0"));
    assert!(first.is_some_and(|l| l.contains("passed")));
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed().as_secs() < 10);
    assert_eq!(status.code(), Some(130));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["run"]["interrupted"], true);
    let cpu = rows(&doc, "cpu:");
    assert_eq!(cpu.len(), 1, "{cpu:?}");
    assert_eq!(cpu[0]["status"], "passed");
    assert!(rows(&doc, "skeleton").is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// In-process, a hanging plugin holds the only thread: the first SIGINT can only ask, the
/// second exits at once, and whatever file is there is whole (or absent).
#[test]
fn a_second_ctrl_c_exits_at_once_and_corrupts_nothing() {
    let dir = scratch("fault-sigint-twice");
    let lib = faulty(&dir, "HANG_SYNC");
    let json = dir.join("run.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_halbench"))
        .args([
            "run",
            "--plugin",
            lib.to_str().unwrap(),
            "--backend",
            "cpu,skeleton",
        ])
        .args([
            "--scale",
            "smoke",
            "--workload",
            "stream.copy",
            "--dtype",
            "f32",
        ])
        .args([
            "--in-process",
            "--progress",
            "lines",
            "--json",
            json.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    assert!(lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("cpu:0")));
    std::thread::sleep(std::time::Duration::from_millis(500));
    for _ in 0..2 {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let started = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed().as_secs() < 5);
    assert_eq!(status.code(), Some(130));
    if let Ok(text) = std::fs::read_to_string(&json) {
        serde_json::from_str::<Value>(&text).expect("a whole document");
    }
}

/// `conformance` runs each backend in a worker too: the crash fails that backend by name,
/// with the signal, and the command exits 1 instead of dying.
#[test]
fn conformance_names_the_backend_whose_worker_crashed() {
    let dir = scratch("fault-conformance");
    let lib = faulty(&dir, "SEGV_LAUNCH");
    let out = common::halbench(&["conformance", "--plugin", lib.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("conformance on skeleton: worker killed by signal 11 (SIGSEGV)"),
        "{stderr}"
    );
}
