//! Plugins through the command line: the C skeleton compiled with `cc`, listed by
//! `devices`, run by `run`, certified by `conformance`; a file that is not a plugin is
//! listed as unavailable with the reason and fails certification.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{halbench, scratch};

fn skeleton(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = dir.join("libskeleton.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-I"])
        .arg(root.join("hal/include"))
        .arg(root.join("backends/plugin/examples/skeleton.c"))
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

#[test]
fn devices_lists_plugins_and_the_reason_a_file_is_not_one() {
    let dir = scratch("plugin-devices");
    let lib = skeleton(&dir);
    let junk = dir.join("libjunk.so");
    std::fs::write(&junk, "not a library").unwrap();
    let out = halbench(&[
        "devices",
        "--plugin",
        lib.to_str().unwrap(),
        "--plugin",
        junk.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("skeleton: available, 1 device(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("version 1.0.0, vendor halbench example, runtime libc"),
        "{stdout}"
    );
    assert!(
        stdout.contains("plugin:libjunk.so: unavailable:") && stdout.contains("cannot be loaded"),
        "{stdout}"
    );

    // The same through HALBENCH_PLUGIN_PATH, as a folder.
    let out = Command::new(env!("CARGO_BIN_EXE_halbench"))
        .args(["devices", "--json"])
        .env("HALBENCH_PLUGIN_PATH", &dir)
        .output()
        .unwrap();
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skeleton = listing
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backend"] == "skeleton")
        .expect("found through HALBENCH_PLUGIN_PATH");
    assert_eq!(
        skeleton["devices"][0]["extras"]["plugin.vendor"],
        "halbench example"
    );
}

#[test]
fn a_plugin_runs_workloads_and_is_certified() {
    let dir = scratch("plugin-run");
    let lib = skeleton(&dir);
    let json = dir.join("run.json");
    let out = halbench(&[
        "run",
        "--plugin",
        lib.to_str().unwrap(),
        "--backend",
        "skeleton",
        "--scale",
        "smoke",
        "--workload",
        "stream.copy",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["results"][0]["status"], "passed");
    assert_eq!(doc["devices"][0]["extras"]["plugin.name"], "skeleton");

    // The skeleton has one kernel: certification runs and reports the rest unsupported.
    let out = halbench(&["conformance", "--plugin", lib.to_str().unwrap(), "memory"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("skeleton:0::memory"), "{stdout}");

    let out = halbench(&["conformance", "--plugin", "/etc/hostname"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be certified"));
}
