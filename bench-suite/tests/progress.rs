//! Progress as a CI log sees it: stderr is not a terminal here, so every finished case is
//! one plain line with the count, the case and its status.

#[allow(dead_code)] // shared helpers; this file needs only `halbench`
mod common;

use common::halbench;

fn smoke(extra: &[&str]) -> (String, String) {
    let args = [
        &[
            "run",
            "--backend",
            "cpu",
            "--scale",
            "smoke",
            "--workload",
            "stream.*",
        ][..],
        extra,
    ]
    .concat();
    let out = halbench(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_log_gets_one_line_per_finished_case() {
    let (stdout, stderr) = smoke(&[]);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 7, "one line per stream case:\n{stderr}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("[{:>4}/7", i + 1)), "{line}");
        assert!(line.contains(" passed "), "{line}");
        assert!(line.contains("cpu:0 stream."), "{line}");
        assert!(line.contains("GB/s"), "{line}");
    }
    // The estimate of the time left appears while cases remain, not on the last line.
    assert!(lines[0].contains("left]"), "{}", lines[0]);
    assert!(!lines[6].contains("left]"), "{}", lines[6]);
    // Progress stays on stderr: the table on stdout is untouched.
    assert!(!stdout.contains("[   1/7"), "{stdout}");
}

#[test]
fn progress_off_prints_no_lines() {
    let (_, stderr) = smoke(&["--progress", "off"]);
    assert!(!stderr.lines().any(|l| l.starts_with('[')), "{stderr}");
}
