//! The command line as a user meets it: bad input gets a one-line error naming the
//! problem and the right exit code (2 usage, 1 runtime), never a panic, and never a
//! partial result file.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{halbench, scratch};

/// Asserts the exit code, that stderr names the problem, and that nothing panicked.
fn refused(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {stderr}\nstdout: {stdout}"
    );
    assert!(
        stderr.contains(needle) || stdout.contains(needle),
        "expected `{needle}` in\nstderr: {stderr}\nstdout: {stdout}"
    );
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
}

fn no_files_in(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn unknown_backend_is_a_usage_error() {
    let dir = scratch("backend");
    let json = dir.join("out.json");
    let out = halbench(&["run", "--backend", "nope", "--json", json.to_str().unwrap()]);
    refused(&out, 2, "unknown backend `nope`");
    no_files_in(&dir);
}

#[test]
fn unknown_workload_is_a_usage_error() {
    refused(
        &halbench(&["run", "--workload", "gemv"]),
        2,
        "no workload matches `gemv`",
    );
}

#[test]
fn unknown_dtype_is_a_usage_error() {
    refused(
        &halbench(&["run", "--dtype", "f64"]),
        2,
        "unknown dtype `f64`",
    );
}

#[test]
fn unknown_variant_is_a_usage_error() {
    refused(
        &halbench(&["run", "--workload", "gemm", "--variant", "fused"]),
        2,
        "unknown variant `fused`",
    );
}

#[test]
fn bad_precision_or_cache_is_a_usage_error() {
    let dir = scratch("precision");
    let json = dir.join("out.json");
    let j = json.to_str().unwrap();
    refused(
        &halbench(&["run", "--precision=-1", "--json", j]),
        2,
        "--precision must be a percentage",
    );
    refused(
        &halbench(&["run", "--precision", "nan", "--json", j]),
        2,
        "--precision must be a percentage",
    );
    refused(
        &halbench(&["run", "--time-cap=-3", "--json", j]),
        2,
        "--time-cap must be seconds",
    );
    refused(
        &halbench(&["run", "--samples", "2001", "--json", j]),
        2,
        "--samples",
    );
    refused(
        &halbench(&["run", "--cache", "lukewarm", "--json", j]),
        2,
        "unknown cache state `lukewarm` (warm, cold)",
    );
    no_files_in(&dir);
}

/// `--cache cold` and `--precision` reach every result; each workload family's default
/// cache state is recorded where none is asked.
#[test]
fn cache_state_and_precision_are_recorded() {
    let dir = scratch("cache");
    let json = dir.join("r.json");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--backend",
            "cpu",
            "--scale",
            "smoke",
            "--workload",
            "gemm",
            "--variant",
            "tiled",
            "--dtype",
            "f32",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = halbench(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        doc["results"].as_array().unwrap().clone()
    };
    for r in run(&["--cache", "cold", "--precision", "5"]) {
        let t = &r["timing"];
        assert_eq!(t["cache"], "cold", "{r}");
        assert_eq!(t["iterations"], 1, "one run a sample when cold: {r}");
        assert_eq!(t["precision_target"], 0.05, "{r}");
        assert!(t["samples"].as_u64().unwrap() >= 3, "{r}");
    }
    // --samples is a floor whatever the precision and scale.
    for r in run(&["--samples", "12"]) {
        assert!(r["timing"]["samples"].as_u64().unwrap() >= 12, "{r}");
    }
    // Defaults: cold at decode shapes (m ≤ 16), warm for the rest; smoke's fixed count.
    for r in run(&[]) {
        let m: u64 = r["shape"].as_str().unwrap().split(',').next().unwrap()[2..]
            .parse()
            .unwrap();
        let want = if m <= 16 { "cold" } else { "warm" };
        assert_eq!(r["timing"]["cache"], want, "{r}");
        assert!(r["timing"].get("precision_target").is_none(), "{r}");
    }
}

#[test]
fn zero_shape_is_a_usage_error() {
    refused(
        &halbench(&["run", "--shape", "m=0,n=16,k=16"]),
        2,
        "`m` must be at least 1",
    );
}

#[test]
fn impossible_shapes_are_usage_errors() {
    refused(
        &halbench(&["run", "--shape", "b=1,h=6,hkv=4,s=64,d=32"]),
        2,
        "must be a multiple of KV heads",
    );
    refused(
        &halbench(&[
            "run",
            "--workload",
            "stream.triad",
            "--shape",
            "m=4,n=4,k=4",
        ]),
        2,
        "fits none of the selected workloads",
    );
    refused(
        &halbench(&["run", "--shape", "m=4;n=4"]),
        2,
        "must be a non-negative integer",
    );
    refused(&halbench(&["run", "--shape", "m"]), 2, "is not key=value");
}

#[test]
fn bad_batch_sweeps_are_usage_errors_before_anything_runs() {
    let dir = scratch("sweep-bad");
    let json = dir.join("out.json");
    let json = json.to_str().unwrap();
    for (args, says) in [
        (vec!["--layer", "n=4096"], "k= is missing"),
        (vec!["--layer", "n=8,k=8,experts=4"], "go together"),
        (
            vec!["--attention", "h=8,hkv=2,d=64"],
            "--attention needs --layer",
        ),
        (
            vec!["--layer", "n=8,k=8", "--attention", "h=6,hkv=4,d=8"],
            "multiple of hkv",
        ),
        (
            vec!["--preset", "70b", "--dtype", "f64"],
            "unknown dtype `f64`",
        ),
        (
            vec!["--preset", "70b", "--max-batch", "0"],
            "must be positive",
        ),
    ] {
        let mut all = vec!["roofline", "--backend", "cpu", "--json", json];
        all.extend(args);
        refused(&halbench(&all), 2, says);
    }
    let out = halbench(&["roofline", "--preset", "405b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("8b, 70b, moe"));
    no_files_in(&dir);
}

#[test]
fn size_beyond_device_memory_is_a_runtime_error_with_a_complete_result() {
    let dir = scratch("oom");
    let json = dir.join("out.json");
    let out = halbench(&[
        "run",
        "--workload",
        "stream.copy",
        "--shape",
        "n=4000000000",
        "--json",
        json.to_str().unwrap(),
    ]);
    refused(&out, 1, "out of memory");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // Each available device records the error; the CPU is always there.
    let cpu = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"] == "cpu:0")
        .unwrap();
    assert_eq!(cpu["status"], "error");
    assert!(cpu["reason"].as_str().unwrap().contains("GiB"));
}

#[test]
fn unwritable_json_path_fails_before_running_and_leaves_nothing() {
    let dir = scratch("unwritable");
    let missing = dir.join("no/such/dir/out.json");
    let out = halbench(&[
        "run",
        "--scale",
        "smoke",
        "--json",
        missing.to_str().unwrap(),
    ]);
    refused(&out, 2, "does not exist");
    no_files_in(&dir);
    // A directory is not a file either.
    let out = halbench(&["run", "--scale", "smoke", "--json", dir.to_str().unwrap()]);
    refused(&out, 2, "is a folder; --json takes the file to write");
    no_files_in(&dir);
}

#[test]
fn every_path_option_of_the_wrong_kind_is_a_usage_error() {
    let dir = scratch("kinds");
    let file = dir.join("a.json");
    std::fs::write(&file, "{}").unwrap();
    let (d, f) = (dir.to_str().unwrap(), file.to_str().unwrap());
    let missing = dir.join("missing.json");
    let m = missing.to_str().unwrap();
    let smoke = [
        "run",
        "--backend",
        "cpu",
        "--scale",
        "smoke",
        "--workload",
        "stream.copy",
    ];
    fn with<'a>(smoke: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [smoke, extra].concat()
    }
    for (args, needle) in [
        (with(&smoke, &["--baseline", f]), "--baseline"),
        (with(&smoke, &["--csv", d]), "--csv"),
        (with(&smoke, &["--json", d]), "--json"),
        (
            with(&smoke, &["--kernel", &format!("stream_copy={d}")]),
            "--kernel",
        ),
        (vec!["compare", d, f], "compare BASE"),
        (vec!["compare", f, m], "compare NEW"),
        (vec!["report", d, "--out", m], "report FILE"),
        (vec!["report", f, "--out", d], "--out"),
        (
            vec!["roofline", "--backend", "cpu", "--input", d],
            "--input",
        ),
        (vec!["roofline", "--backend", "cpu", "--json", d], "--json"),
    ] {
        let out = halbench(&args);
        refused(&out, 2, needle);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            ["is a folder", "is a file", "no such file"]
                .iter()
                .any(|k| stderr.contains(k)),
            "{args:?}: {stderr}"
        );
    }
    // The baseline message says what --baseline wants.
    refused(
        &halbench(&with(&smoke, &["--baseline", f])),
        2,
        "is a file; --baseline takes a folder",
    );
    // Nothing was written over the file or into the folder.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn smoke_run_writes_valid_json_csv_and_markdown() {
    let dir = scratch("smoke");
    let (json, csv) = (dir.join("r.json"), dir.join("r.csv"));
    let out = halbench(&[
        "run",
        "--backend",
        "cpu",
        "--scale",
        "smoke",
        "--workload",
        "stream.*",
        "--workload",
        "gemm",
        "--dtype",
        "f32,bf16",
        "--format",
        "markdown",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| device |"), "{stdout}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let results = doc["results"].as_array().unwrap();
    // 7 stream cases (5 kernels, the memory curve's 2 smoke sizes) + gemm: 5 shapes ×
    // 3 variants × 2 dtypes.
    assert_eq!(results.len(), 7 + 30);
    for r in results {
        assert_eq!(r["status"], "passed", "{r}");
        assert!(r["timing"]["median_s"].as_f64().unwrap() > 0.0);
        assert!(r["validation"]["checked"].as_u64().unwrap() > 0);
    }
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + results.len());
    // Only the two files: the temporary ones were renamed away.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
}

#[test]
fn devices_lists_the_cpu_as_json() {
    let out = halbench(&["devices", "--json"]);
    assert!(out.status.success());
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpu = &listing.as_array().unwrap()[0];
    assert_eq!(cpu["backend"], "cpu");
    assert_eq!(cpu["available"], true);
    assert!(
        cpu["devices"][0]["last_level_cache_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn a_required_backend_that_is_missing_fails_the_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_halbench"))
        .args(["run", "--scale", "smoke", "--workload", "stream.copy"])
        .env("HALBENCH_REQUIRE", "cpu,imaginary")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("imaginary"));
}

#[test]
fn a_missing_opencl_driver_is_reported_and_the_rest_still_runs() {
    // An empty ICD vendor directory: the loader finds no platform.
    let dir = scratch("no-icd");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_halbench"))
            .args(args)
            .env("OCL_ICD_VENDORS", &dir)
            .env_remove("HALBENCH_REQUIRE")
            .output()
            .unwrap()
    };
    let out = run(&["devices"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cpu: available"), "{stdout}");
    assert!(
        stdout.contains("opencl: unavailable: no OpenCL platform"),
        "{stdout}"
    );

    let out = run(&["run", "--scale", "smoke", "--workload", "stream.copy"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unavailable opencl"));

    // Asked for by name, a missing backend fails the run.
    refused(
        &run(&["run", "--scale", "smoke", "--backend", "opencl"]),
        1,
        "no OpenCL platform",
    );
}

#[test]
fn a_missing_vulkan_driver_is_reported_and_the_rest_still_runs() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_halbench"))
            .args(args)
            .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
            .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
            .env_remove("HALBENCH_REQUIRE")
            .output()
            .unwrap()
    };
    let out = run(&["devices"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cpu: available"), "{stdout}");
    assert!(stdout.contains("vulkan: unavailable"), "{stdout}");
    let out = run(&[
        "run",
        "--scale",
        "smoke",
        "--workload",
        "stream.copy",
        "--backend",
        "cpu",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two runs writing one `--json` path at once leave one run's whole document (every
/// result of one workload, never a mix or a torn file) and no temporary file.
#[test]
fn concurrent_runs_on_one_json_path_leave_one_whole_file() {
    let dir = scratch("concurrent-json");
    let json = dir.join("r.json");
    let j = json.to_str().unwrap();
    for _ in 0..3 {
        let spawn = |workload: &str| {
            Command::new(env!("CARGO_BIN_EXE_halbench"))
                .args([
                    "run",
                    "--backend",
                    "cpu",
                    "--scale",
                    "smoke",
                    "--progress",
                    "off",
                ])
                .args(["--workload", workload, "--json", j, "--format", "json"])
                .env_remove("HALBENCH_REQUIRE")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let (mut a, mut b) = (spawn("stream.copy"), spawn("stream.scale"));
        assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let results = doc["results"].as_array().unwrap();
        assert!(!results.is_empty());
        let first = &results[0]["workload"];
        assert!(results.iter().all(|r| &r["workload"] == first), "{doc}");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "r.json")
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}
