use super::*;
use crate::results::{CaseResult, RunInfo, Timing, TimingMethod};
use crate::scheduler::Scheduler;

fn device() -> halbench_hal::DeviceInfo {
    halbench_hal::DeviceInfo {
        backend: "cpu".into(),
        name: "EPYC".into(),
        ..Default::default()
    }
}

fn result(workload: &str, median_s: f64, status: Status) -> CaseResult {
    CaseResult {
        backend: "cpu".into(),
        device: "cpu:0".into(),
        workload: workload.into(),
        variant: "default".into(),
        dtype: "f32".into(),
        shape: "n=1".into(),
        status,
        reason: None,
        validation: None,
        timing: (status == Status::Passed).then(|| Timing {
            method: TimingMethod::System,
            samples: 10,
            iterations: 1,
            median_s,
            min_s: median_s,
            max_s: median_s,
            p10_s: median_s,
            p90_s: median_s,
            cv: 0.0,
            compile_s: 0.0,
            precision: Some(0.01),
            precision_target: None,
            capped: false,
            sampling_s: 0.0,
            cache: Default::default(),
            telemetry: None,
        }),
        metrics: None,
        emulated: None,
        source: None,
    }
}

fn run(node: &str, results: Vec<CaseResult>) -> (PathBuf, RunReport) {
    let report = RunReport {
        schema_version: crate::results::SCHEMA_VERSION,
        run: RunInfo {
            tool_version: "0".into(),
            git_revision: "0".into(),
            host: "same-vm".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            scale: "quick".into(),
            command: vec![],
            interrupted: false,
            scheduler: Some(Scheduler::Slurm {
                job_id: "1".into(),
                step_id: None,
                node: Some(node.into()),
                task: None,
                tasks: None,
            }),
        },
        devices: vec![device()],
        results,
        sweeps: vec![],
    };
    (PathBuf::from(format!("{node}.json")), report)
}

fn fleet(times: &[f64]) -> Vec<(PathBuf, RunReport)> {
    times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            run(
                &format!("n{i}"),
                vec![
                    result("gemm", *t, Status::Passed),
                    result("stream.copy", 1.0, Status::Passed),
                ],
            )
        })
        .collect()
}

#[test]
fn a_host_twice_as_slow_is_named_and_fails_the_gate() {
    let f = judge(&fleet(&[1.0, 1.02, 0.99, 2.0, 1.01]), 0.1, &[]).unwrap();
    assert!(f.failed());
    assert_eq!(f.hosts[0].host, "n3");
    assert_eq!(f.hosts[0].gated_outliers, 1);
    let gemm = f
        .cases
        .iter()
        .find(|c| c.case.starts_with("gemm/"))
        .unwrap();
    assert_eq!(gemm.median_s, Some(1.01));
    assert_eq!(gemm.outliers.len(), 1);
    assert_eq!(gemm.outliers[0].standing, Standing::Slower);
    assert!((gemm.outliers[0].ratio.unwrap() - 2.0 / 1.01).abs() < 1e-12);
    // The table names it and states the rule.
    let text = tables(&f, true);
    assert!(
        text.contains("FAIL: outlier host(s) on gated cases: n3"),
        "{text}"
    );
    assert!(
        text.contains("max(3.5 × 1.4826 × MAD, 10% of the median)"),
        "{text}"
    );
}

#[test]
fn noise_within_the_floor_or_a_faster_host_passes() {
    // Near-identical hosts: MAD ≈ 0, the 10% floor decides.
    let f = judge(&fleet(&[1.0, 1.0, 1.0, 1.08]), 0.1, &[]).unwrap();
    assert!(!f.failed(), "{}", tables(&f, false));
    // A faster host is reported, never gated.
    let f = judge(&fleet(&[1.0, 1.0, 1.0, 0.5]), 0.1, &[]).unwrap();
    assert!(!f.failed());
    assert_eq!(f.hosts[0].outliers, 1);
    assert_eq!(f.hosts[0].gated_outliers, 0);
}

#[test]
fn the_mad_widens_the_threshold_for_a_noisy_case() {
    // Spread members: 3.5 × 1.4826 × MAD beats the floor, and 1.5x is inside it.
    let f = judge(&fleet(&[1.0, 1.3, 0.8, 1.1, 0.9, 1.5]), 0.1, &[]).unwrap();
    let gemm = f
        .cases
        .iter()
        .find(|c| c.case.starts_with("gemm/"))
        .unwrap();
    assert!(gemm.threshold.unwrap() > 0.5, "{gemm:?}");
    assert!(gemm.outliers.is_empty());
}

#[test]
fn only_gated_cases_fail_and_a_broken_case_is_an_outlier() {
    let pat = [glob::Pattern::new("stream.*").unwrap()];
    let f = judge(&fleet(&[1.0, 1.0, 1.0, 3.0]), 0.1, &pat).unwrap();
    assert!(!f.failed(), "gemm is not gated");
    assert_eq!(f.hosts[0].outliers, 1);

    let mut runs = fleet(&[1.0, 1.0, 1.0]);
    runs.push(run("bad", vec![result("gemm", 0.0, Status::Error)]));
    let f = judge(&runs, 0.1, &[]).unwrap();
    assert!(f.failed());
    assert_eq!(f.hosts[0].host, "bad");
    let gemm = f
        .cases
        .iter()
        .find(|c| c.case.starts_with("gemm/"))
        .unwrap();
    assert_eq!(gemm.outliers[0].standing, Standing::Broke);
    assert_eq!(gemm.outliers[0].status.as_deref(), Some("error"));
}

#[test]
fn too_few_members_are_listed_not_judged_and_same_names_are_told_apart() {
    let mut runs = fleet(&[1.0, 5.0]);
    for (_, r) in &mut runs {
        r.run.scheduler = None; // both "same-vm": told apart by file
    }
    let f = judge(&runs, 0.1, &[]).unwrap();
    assert!(!f.failed());
    let gemm = f
        .cases
        .iter()
        .find(|c| c.case.starts_with("gemm/"))
        .unwrap();
    assert_eq!(gemm.median_s, None);
    assert!(gemm.not_judged.as_deref().unwrap().contains("3 needed"));
    let names: Vec<&str> = f.hosts.iter().map(|h| h.host.as_str()).collect();
    assert!(
        names.contains(&"same-vm (n0)") && names.contains(&"same-vm (n1)"),
        "{names:?}"
    );
    assert!(judge(&runs, f64::NAN, &[]).is_err());
}

#[test]
fn the_fleet_page_draws_a_strip_per_judged_case_and_names_the_outlier() {
    let f = judge(&fleet(&[1.0, 1.02, 0.99, 2.0]), 0.1, &[]).unwrap();
    let page = crate::report::fleet_page(&f);
    assert!(page.contains(r#"data-charts="2""#), "{page}");
    assert!(page.contains("n3 +"), "{page}");
    assert!(page.contains("<b>FAIL</b>"));
}
