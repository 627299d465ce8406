//! `halbench fleet` on documents from a real run: four "hosts" made from one run of this
//! machine (each given its own Slurm node), one of them three times slower.

mod common;

use common::{halbench, scratch};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn real_run(dir: &Path) -> Value {
    let json = dir.join("real.json");
    let out = halbench(&[
        "run",
        "--backend",
        "cpu",
        "--scale",
        "smoke",
        "--workload",
        "stream.copy",
        "--workload",
        "peak.fma",
        "--dtype",
        "f32",
        "--progress",
        "off",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

/// The run as host `node`, its times multiplied by `slower`.
fn host(dir: &Path, doc: &Value, node: &str, slower: f64) -> PathBuf {
    let mut doc = doc.clone();
    doc["run"]["scheduler"] = serde_json::json!({"kind": "slurm", "job_id": "7", "node": node});
    for r in doc["results"].as_array_mut().unwrap() {
        // Cases that did not run (unsupported, skipped) carry no timing.
        if let Some(t) = r["timing"]["median_s"].as_f64() {
            r["timing"]["median_s"] = (t * slower).into();
        }
    }
    let path = dir.join(format!("{node}.json"));
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    path
}

fn fleet(files: &[&PathBuf], extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["fleet"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    let out = halbench(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_slow_host_is_named_and_fails_the_fleet_and_without_it_the_fleet_passes() {
    let dir = scratch("fleet");
    let doc = real_run(&dir);
    let a = host(&dir, &doc, "node-a", 1.0);
    let b = host(&dir, &doc, "node-b", 1.0);
    let c = host(&dir, &doc, "node-c", 1.0);
    let slow = host(&dir, &doc, "node-slow", 3.0);

    let page = dir.join("fleet.html");
    let (code, stdout, stderr) = fleet(&[&a, &b, &c, &slow], &["--html", page.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAIL: outlier host(s) on gated cases: node-slow"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("node-slow +200%"), "{html}");

    let (code, stdout, _) = fleet(&[&a, &b, &c, &slow], &["--format", "json"]);
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["hosts"][0]["host"], "node-slow");
    let judged = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["median_s"].is_number());
    assert!(judged.count() >= 2, "{stdout}");

    // Gating only a case the slow host is not beyond: reported, not failed.
    let (code, stdout, _) = fleet(
        &[&a, &b, &c, &slow],
        &["--gate", "nothing/*", "--format", "markdown"],
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("(not gated)"), "{stdout}");

    let (code, stdout, _) = fleet(&[&a, &b, &c], &[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("pass: no host is an outlier"), "{stdout}");
}

#[test]
fn bad_fleet_inputs_are_usage_errors() {
    let dir = scratch("fleet-bad");
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{").unwrap();
    let (code, _, stderr) = fleet(&[&junk], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is not JSON"), "{stderr}");
    let (code, _, stderr) = fleet(&[&dir.join("missing.json")], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    let doc = r#"{"schema_version":1,"run":{"tool_version":"0","git_revision":"0","host":"h","started_at":"x","scale":"smoke","command":[]},"devices":[],"results":[]}"#;
    let ok = dir.join("ok.json");
    std::fs::write(&ok, doc).unwrap();
    let (code, _, stderr) = fleet(&[&ok], &["--gate", "[unclosed"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--gate"), "{stderr}");
    let (code, _, stderr) = fleet(&[&ok], &["--threshold", "-5"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"));
}
