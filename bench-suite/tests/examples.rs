//! The porter's examples (`examples/`), which `cargo test` builds, each run here on every
//! device present: they exit non-zero when a device computes a wrong answer or a backend
//! named in `HALBENCH_REQUIRE` ran nothing.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/NAME`, beside this test's own `deps/` folder.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile.join("examples").join(name)
}

fn run(name: &str) -> String {
    let path = example(name);
    // `cargo test` builds the examples; `cargo test --test examples` alone does not.
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-p", "halbench", "--example", name])
            .status()
            .expect("cargo runs");
        assert!(built.success(), "cargo build --example {name}");
    }
    let out = Command::new(&path)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo test builds examples)", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn port_a_kernel_runs_and_checks_on_every_device() {
    let out = run("port_a_kernel");
    assert!(out.contains("cpu:0: passed"), "{out}");
}

#[test]
fn custom_workload_validates_rmsnorm_on_every_device() {
    let out = run("custom_workload");
    assert!(
        out.contains("cpu:0      example.rmsnorm/default/f32/rows=3,cols=1000: passed"),
        "{out}"
    );
    assert!(!out.contains(": failed"), "{out}");
}
