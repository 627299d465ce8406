//! The memory curve from a real run: `stream.sweep` validates at its smoke sizes on the
//! CPU, the roofline takes its out-of-cache plateau (the median of those points, not the
//! luckiest one) when that beats the other stream kernels, and the report draws it.

use std::process::Command;

use halbench::results::RunReport;
use halbench::roofline::Ceilings;

#[test]
fn the_roofline_uses_the_sweeps_out_of_cache_plateau_and_the_report_draws_it() {
    let dir = std::env::temp_dir().join(format!("halbench-curve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("curve.json");
    let out = Command::new(env!("CARGO_BIN_EXE_halbench"))
        .args([
            "run",
            "--backend",
            "cpu",
            "--workload",
            "stream.sweep,stream.triad",
        ])
        .args(["--scale", "smoke", "--progress", "off", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = doc["results"].as_array_mut().unwrap();
    let sweep = results.iter().filter(|r| r["workload"] == "stream.sweep");
    assert_eq!(sweep.clone().count(), 2);
    assert!(
        sweep.clone().all(|r| r["status"] == "passed"),
        "{results:?}"
    );
    // Smoke sizes sit in cache; make them the out-of-cache end of a curve, with figures
    // that tell the median from the maximum: triad 20, sweep points 50, 40, 45.
    let mut figures = [50.0, 40.0].into_iter();
    for r in results.iter_mut() {
        let gbs = match r["workload"].as_str() {
            Some("stream.triad") => 20.0,
            _ => figures.next().unwrap(),
        };
        r["metrics"]["cache_resident"] = false.into();
        r["metrics"]["gbs"] = gbs.into();
    }
    let mut third = results
        .iter()
        .find(|r| r["workload"] == "stream.sweep")
        .unwrap()
        .clone();
    third["shape"] = "n=200003".into();
    third["metrics"]["gbs"] = 45.0.into();
    results.push(third);
    let report: RunReport = serde_json::from_value(doc.clone()).unwrap();
    let c = &Ceilings::from_report(&report)[0];
    let bw = c.bandwidth.as_ref().unwrap();
    assert_eq!(bw.value, 45.0, "{bw:?}");
    assert!(bw.source.contains("stream.sweep plateau"), "{}", bw.source);
    assert!(bw.source.contains("3 sizes"), "{}", bw.source);

    std::fs::write(&json, serde_json::to_string(&doc).unwrap()).unwrap();
    let html = dir.join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_halbench"))
        .arg("report")
        .arg(&json)
        .arg("--out")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>Memory curves</h2>"), "no memory curve");
    assert!(page.contains("memory curve: stream.sweep"));
    std::fs::remove_dir_all(dir).ok();
}
