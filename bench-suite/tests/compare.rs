//! `halbench compare`: the regression gate's verdicts and exit codes. The base comes from a
//! real smoke run; its measured precision is then set to a known ±1% (cv 2%) so the
//! verdicts do not depend on how busy the test machine is.

mod common;

use std::path::Path;

use common::{halbench, scratch};

use serde_json::Value;

/// A real smoke run, with every case's precision set to 0.01 and cv to 0.02.
fn base(dir: &Path) -> Value {
    let path = dir.join("base.json");
    let out = halbench(&[
        "run",
        "--backend",
        "cpu",
        "--scale",
        "smoke",
        "--workload",
        "stream.*",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for r in doc["results"].as_array_mut().unwrap() {
        r["timing"]["cv"] = 0.02.into();
        r["timing"]["precision"] = 0.01.into();
    }
    doc
}

fn save(dir: &Path, name: &str, doc: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(doc).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

fn compare(a: &str, b: &str) -> (Option<i32>, String, String) {
    let out = halbench(&["compare", a, b, "--format", "markdown"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_run_against_itself_is_not_a_regression() {
    let d = scratch("self");
    let a = save(&d, "a.json", &base(&d));
    let (code, stdout, stderr) = compare(&a, &a);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("| same"), "{stdout}");
    assert!(!stdout.contains("slower"));
}

#[test]
fn twice_as_slow_is_a_regression_named_in_the_output() {
    let d = scratch("slower");
    let doc = base(&d);
    let mut slow = doc.clone();
    let case = &mut slow["results"][2];
    let median = case["timing"]["median_s"].as_f64().unwrap();
    case["timing"]["median_s"] = (2.0 * median).into();
    let name = format!(
        "cpu:0/{}/default/f32/{}",
        case["workload"].as_str().unwrap(),
        case["shape"].as_str().unwrap()
    );
    let (code, stdout, stderr) = compare(&save(&d, "a.json", &doc), &save(&d, "b.json", &slow));
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains(&name), "{stderr}");
    assert!(stdout.contains("| slower"), "{stdout}");
    // 5% slower sits inside the 10% threshold.
    let mut barely = doc.clone();
    barely["results"][2]["timing"]["median_s"] = (1.05 * median).into();
    let (code, _, _) = compare(&save(&d, "a.json", &doc), &save(&d, "c.json", &barely));
    assert_eq!(code, Some(0));
}

#[test]
fn a_change_the_noise_cannot_decide_is_ambiguous_and_not_a_regression() {
    let d = scratch("ambiguous");
    let doc = base(&d);
    let median = doc["results"][2]["timing"]["median_s"].as_f64().unwrap();
    // 12% slower, each median known to ±1%: the ratio's interval (1.097, 1.142) crosses
    // the 10% threshold.
    let mut near = doc.clone();
    near["results"][2]["timing"]["median_s"] = (1.12 * median).into();
    let (code, stdout, stderr) = compare(&save(&d, "a.json", &doc), &save(&d, "b.json", &near));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("| ambiguous"), "{stdout}");
    assert!(stderr.contains("1 ambiguous"), "{stderr}");
    // Known to ±0.5% each, the same 12% is decided: slower.
    let mut precise = doc.clone();
    let mut near_precise = near.clone();
    for d in [&mut precise, &mut near_precise] {
        d["results"][2]["timing"]["precision"] = 0.005.into();
    }
    let (code, stdout, _) = compare(
        &save(&d, "c.json", &precise),
        &save(&d, "e.json", &near_precise),
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("| slower"), "{stdout}");
    // A 2x slowdown known only to ±30% (a noisy case) is still beyond doubt.
    let mut noisy = doc.clone();
    noisy["results"][2]["timing"]["median_s"] = (2.0 * median).into();
    noisy["results"][2]["timing"]["precision"] = 0.3.into();
    let (code, stdout, _) = compare(&save(&d, "a.json", &doc), &save(&d, "f.json", &noisy));
    assert_eq!(code, Some(1), "{stdout}");
    // A result from before precision was recorded is taken as known to ±2·cv.
    let mut old = doc.clone();
    for r in old["results"].as_array_mut().unwrap() {
        r["timing"].as_object_mut().unwrap().remove("precision");
    }
    let (code, stdout, _) = compare(&save(&d, "g.json", &old), &save(&d, "h.json", &near));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("| ambiguous"), "{stdout}");
}

#[test]
fn passed_to_failed_is_a_regression() {
    let d = scratch("broke");
    let doc = base(&d);
    let mut broke = doc.clone();
    broke["results"][0]["status"] = "failed".into();
    let (code, stdout, stderr) = compare(&save(&d, "a.json", &doc), &save(&d, "b.json", &broke));
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("| broke"), "{stdout}");
    // The other way round is a fix, not a regression; a vanished case is listed.
    let mut fewer = doc.clone();
    fewer["results"].as_array_mut().unwrap().pop();
    let (code, stdout, _) = compare(&save(&d, "c.json", &broke), &save(&d, "d.json", &fewer));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("| fixed") && stdout.contains("| missing"),
        "{stdout}"
    );
}

#[test]
fn malformed_or_foreign_files_are_clear_errors() {
    let d = scratch("bad");
    let good = save(&d, "a.json", &base(&d));
    let garbage = d.join("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let (code, _, stderr) = compare(&good, garbage.to_str().unwrap());
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is not JSON"), "{stderr}");
    let mut future = base(&d);
    future["schema_version"] = 99.into();
    let (code, _, stderr) = compare(&good, &save(&d, "future.json", &future));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("schema_version 99"), "{stderr}");
    let (code, _, stderr) = compare(&good, d.join("missing.json").to_str().unwrap());
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no such file"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

/// `run --baseline`: record, compare with the record, and fail against a baseline a
/// thousand times faster than this machine, naming the case. The margins are wide because
/// the runs are real and tests run side by side on few cores: three smoke samples known
/// only to ±90% widen a ratio's interval tenfold, and the recording run itself may be
/// several times slower than the next.
#[test]
fn run_with_a_baseline_records_compares_and_gates() {
    let d = scratch("baseline");
    let dir = d.join("baselines");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--backend",
            "cpu",
            "--scale",
            "smoke",
            "--workload",
            "peak.fma",
            "--variant",
            "default",
            "--dtype",
            "f32",
            "--baseline",
            dir.to_str().unwrap(),
        ];
        args.extend(extra);
        halbench(&args)
    };
    let out = run(&["--update-baseline"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let file = files[0].path();
    assert!(file
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("cpu-"));

    let out = run(&["--threshold", "1000"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    for r in doc["results"].as_array_mut().unwrap() {
        r["timing"]["median_s"] = (r["timing"]["median_s"].as_f64().unwrap() / 1000.0).into();
        r["timing"]["cv"] = 0.0.into();
        r["timing"]["precision"] = 0.0.into();
    }
    std::fs::write(&file, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cpu:0/peak.fma/default/f32/n=1000"),
        "{stderr}"
    );

    // A baseline known only to ±90%: every case is ambiguous, is measured again more
    // precisely (the JSON holds the second look's figures), stays undecided, and passes.
    // At a 300% threshold that holds for any ratio from 0.025 to 7.6 between the runs.
    for r in doc["results"].as_array_mut().unwrap() {
        r["timing"]["median_s"] = (r["timing"]["median_s"].as_f64().unwrap() * 1000.0).into();
        r["timing"]["precision"] = 0.9.into();
    }
    std::fs::write(&file, serde_json::to_string(&doc).unwrap()).unwrap();
    let json = d.join("second.json");
    let out = run(&["--json", json.to_str().unwrap(), "--threshold", "300"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("measuring them again"), "{stderr}");
    assert!(stderr.contains("ambiguous"), "{stderr}");
    let second: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for r in second["results"].as_array().unwrap() {
        assert!(r["timing"]["precision_target"].as_f64().is_some(), "{r}");
    }

    // A device with no baseline passes, saying so.
    std::fs::remove_file(&file).unwrap();
    let out = run(&[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no baseline for cpu:0"));
}

#[test]
fn device_dtypes_read_from_results_old_and_new() {
    use halbench_hal::{DType, DeviceInfo};
    // A real OpenCL result from before the dtype set: f16/bf16 flags, f32 implied.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/opencl-result-before-dtype-sets.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let old: DeviceInfo = serde_json::from_value(doc["devices"][0].clone()).unwrap();
    assert_eq!(old.features.dtypes, [DType::F32, DType::BF16].into());
    assert!(old.features.device_timers);

    // Today's form round-trips; a dtype this build does not know is left out, not fatal.
    let text = serde_json::to_string(&old).unwrap();
    assert!(text.contains(r#""dtypes":["f32","bf16"]"#), "{text}");
    let newer = text.replace(r#"["f32","bf16"]"#, r#"["f32","bf16","int4"]"#);
    let read: DeviceInfo = serde_json::from_str(&newer).unwrap();
    assert_eq!(read, old);
}

/// fp8 results from a real run: compare keys them by their dtype like any other, gates
/// them, and says where a pair's arithmetic changed (emulated in one run, native in the
/// other) beside the verdict.
#[test]
fn fp8_results_compare_and_a_change_of_arithmetic_is_named() {
    let d = scratch("fp8");
    let path = d.join("fp8.json");
    let out = halbench(&[
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
        "fp8e4m3,fp8e5m2",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let results = doc["results"].as_array_mut().unwrap();
    assert_eq!(results.len(), 10);
    for r in results.iter_mut() {
        assert_eq!(r["status"], "passed", "{r}");
        assert!(
            r["emulated"].as_str().unwrap().contains("decoded to f32"),
            "{r}"
        );
        r["timing"]["cv"] = 0.02.into();
    }
    let a = save(&d, "a.json", &doc);
    let (code, stdout, stderr) = compare(&a, &a);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("/tiled/fp8e4m3/") && stdout.contains("/tiled/fp8e5m2/"));

    let mut native = doc.clone();
    let case = &mut native["results"][0];
    case.as_object_mut().unwrap().remove("emulated");
    let median = case["timing"]["median_s"].as_f64().unwrap();
    case["timing"]["median_s"] = (2.0 * median).into();
    let key = format!("cpu:0/gemm/tiled/{}/", case["dtype"].as_str().unwrap());
    let (code, stdout, stderr) = compare(&a, &save(&d, "b.json", &native));
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let line = stdout.lines().find(|l| l.contains("| slower")).unwrap();
    assert!(
        line.contains(&key) && line.contains("(emulated → native)"),
        "{line}"
    );
}

/// `compare` over interleaved rounds: the base doc, and `new` with case 2's median scaled
/// by each factor in turn, one round each.
fn rounds(d: &Path, factors: &[f64]) -> (Option<i32>, String, String) {
    let doc = base(d);
    let a = save(d, "a.json", &doc);
    let mut args = vec!["compare".to_string()];
    for (i, f) in factors.iter().enumerate() {
        let mut new = doc.clone();
        let case = &mut new["results"][2];
        let median = case["timing"]["median_s"].as_f64().unwrap();
        case["timing"]["median_s"] = (f * median).into();
        let b = save(d, &format!("b{i}.json"), &new);
        if i > 0 {
            args.push("--round".into());
        }
        args.extend([a.clone(), b]);
    }
    args.extend(["--format".into(), "markdown".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = halbench(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn interleaved_rounds_outvote_one_drifting_round_and_agree_on_a_real_slowdown() {
    let d = scratch("rounds");
    // One round 1.64x slower among quiet ones: the machine's drift, not a regression.
    let (code, stdout, stderr) = rounds(&d, &[1.0, 1.64, 1.01]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("rounds' range"), "{stdout}");
    assert!(!stdout.contains("| slower"), "{stdout}");
    // Every round twice as slow: a regression.
    let (code, stdout, stderr) = rounds(&d, &[2.0, 1.9, 2.1]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("| slower"), "{stdout}");
    // A --round without its second file is a usage error.
    let a = save(&d, "a.json", &base(&d));
    let out = halbench(&["compare", &a, &a, "--round", &a]);
    assert_eq!(out.status.code(), Some(2));
}
