//! `halbench report` on real runs, then the page in a real headless browser (Debian's
//! chromium): it must load without script errors, draw every chart, and screenshot as
//! something other than a blank page. Where no browser is installed the browser half is
//! skipped, unless `HALBENCH_REQUIRE_BROWSER` is set (CI sets it) and then it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{halbench, scratch};

fn browser() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn headless(browser: &Path, extra: &[&str], page: &Path) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1200,2400",
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("the browser starts")
}

/// Two real CPU runs: the roofline's ceilings at quick scale with a small layer's decode
/// batch sweep, and every workload at smoke.
fn report(dir: &Path) -> (PathBuf, String) {
    let quick = dir.join("ceilings.json");
    let smoke = dir.join("smoke.json");
    let sweep = [
        "roofline",
        "--backend",
        "cpu",
        "--layer",
        "n=384,k=256",
        "--attention",
        "h=4,hkv=2,d=32",
        "--context",
        "64",
        "--max-batch",
        "8",
        "--dtype",
        "f32",
        "--json",
        quick.to_str().unwrap(),
    ];
    let run = [
        "run",
        "--backend",
        "cpu",
        "--scale",
        "smoke",
        "--json",
        smoke.to_str().unwrap(),
    ];
    for args in [&sweep[..], &run[..]] {
        let out = halbench(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let page = dir.join("report.html");
    let out = halbench(&[
        "report",
        quick.to_str().unwrap(),
        smoke.to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    (page, html)
}

fn charts(html: &str) -> usize {
    let at = html
        .find("data-charts=\"")
        .expect("the body counts its charts")
        + 13;
    html[at..].split('"').next().unwrap().parse().unwrap()
}

#[test]
fn a_real_run_becomes_a_self_contained_page_that_a_browser_renders() {
    let dir = scratch("report");
    let (page, html) = report(&dir);
    let n = charts(&html);
    // A roofline for the CPU, the sweep, and one bar chart per workload of the smoke run.
    assert!(n > halbench_kernels::all().len() + 1, "{n} charts");
    assert_eq!(html.matches("<svg").count(), n);
    assert!(html.contains("class=\"roofline\""));
    assert!(html.contains("measured: peak.fma") && html.contains("measured: stream."));
    assert_eq!(html.matches("class=\"knee\"").count(), 1);
    for drawn in [
        "time per step",
        "time per token",
        "floor: weights read once",
        "formula knee",
    ] {
        assert!(html.contains(drawn), "the sweep chart has no `{drawn}`");
    }
    for external in ["<link", "<img", "src=", "url(", "@import", "https:"] {
        assert!(
            !html.contains(external),
            "the page fetches something: {external}"
        );
    }

    let Some(browser) = browser() else {
        assert!(
            std::env::var_os("HALBENCH_REQUIRE_BROWSER").is_none(),
            "HALBENCH_REQUIRE_BROWSER is set but no chromium is installed"
        );
        eprintln!("no chromium: browser half skipped");
        return;
    };
    let dom = headless(&browser, &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains(&format!("data-ready=\"{n}\"")),
        "the page did not finish loading with {n} charts: {}",
        dom.lines()
            .find(|l| l.contains("<body"))
            .unwrap_or("no body")
    );
    assert!(dom.contains("data-errors=\"0\""), "script errors on load");

    let shot = dir.join("shot.png");
    let out = headless(
        &browser,
        &[&format!("--screenshot={}", shot.display())],
        &page,
    );
    assert!(shot.is_file(), "{}", String::from_utf8_lossy(&out.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let channels = frame.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..frame.buffer_size()].chunks(channels).collect();
    let white = pixels
        .iter()
        .filter(|p| p[..3].iter().all(|&c| c > 245))
        .count();
    let mut colours: Vec<&[u8]> = pixels.iter().map(|p| &p[..3]).collect();
    colours.sort_unstable();
    colours.dedup();
    let inked = 1.0 - white as f64 / pixels.len() as f64;
    assert!(
        inked > 0.02,
        "the screenshot is nearly blank ({:.2}% inked)",
        inked * 100.0
    );
    assert!(
        colours.len() > 16,
        "only {} colours on the page",
        colours.len()
    );
}

#[test]
fn bad_inputs_to_report_are_clear_errors() {
    let dir = scratch("report-bad");
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{ not json").unwrap();
    let out = halbench(&[
        "report",
        junk.to_str().unwrap(),
        "--out",
        dir.join("r.html").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not JSON"));
    assert!(!dir.join("r.html").exists());
    let out = halbench(&["report", "/nonexistent/run.json"]);
    assert_eq!(out.status.code(), Some(2));
}
