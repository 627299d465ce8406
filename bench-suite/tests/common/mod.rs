//! Helpers shared by the command-line tests.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the built `halbench` with `args`, without any `HALBENCH_REQUIRE` from the
/// environment (tests that need it set it themselves).
pub fn halbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_halbench"))
        .args(args)
        .env_remove("HALBENCH_REQUIRE")
        .output()
        .expect("halbench runs")
}

/// An empty directory of this test process's own, named `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("halbench-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
