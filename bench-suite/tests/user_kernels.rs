//! `halbench run --kernel NAME=PATH`: a user's kernel validated and timed beside the
//! built-in variants, on PoCL (OpenCL C) and lavapipe (SPIR-V, GLSL). A backend that is
//! missing skips its tests unless `HALBENCH_REQUIRE` names it, as CI does.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{halbench, scratch};
use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/kernels")
        .join(name)
        .display()
        .to_string()
}

/// True when `backend` has a device here; panics when it is missing but required.
fn present(backend: &str) -> bool {
    let out = halbench(&["devices", "--json"]);
    let listing: Value = serde_json::from_slice(&out.stdout).expect("devices --json");
    let available = listing
        .as_array()
        .into_iter()
        .flatten()
        .any(|b| b["backend"] == backend && b["available"] == true);
    let required = std::env::var("HALBENCH_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .any(|b| b == backend);
    assert!(
        available || !required,
        "{backend} is required (HALBENCH_REQUIRE) but not available"
    );
    if !available {
        eprintln!("skipped: no {backend} device");
    }
    available
}

/// Runs one small GEMM on `backends` with `kernels`, returning the exit status and the
/// results document.
fn run(backends: &str, kernels: &[String], extra: &[&str]) -> (Output, Value) {
    let dir = scratch(&format!("user-kernels-{backends}-{}", kernels.len()));
    let json = dir.join("run.json");
    let json_arg = json.display().to_string();
    let mut args = vec![
        "run",
        "--backend",
        backends,
        "--workload",
        "gemm",
        "--dtype",
        "f32",
        "--shape",
        "m=37,n=29,k=45",
        "--json",
        &json_arg,
    ];
    args.extend(extra);
    for k in kernels {
        args.push("--kernel");
        args.push(k);
    }
    let out = halbench(&args);
    let doc = std::fs::read(&json)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    (out, doc)
}

fn row<'a>(doc: &'a Value, device: &str, variant: &str) -> &'a Value {
    doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["device"] == device && r["variant"] == variant)
        .unwrap_or_else(|| panic!("no {device} {variant} row in {doc}"))
}

#[test]
fn a_correct_opencl_gemm_is_validated_and_timed_beside_the_builtins() {
    if !present("opencl") {
        return;
    }
    let path = fixture("my_gemm.cl");
    let (out, doc) = run("opencl,cpu", &[format!("gemm_tiled={path}")], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user = row(&doc, "opencl:0", "user:my_gemm");
    assert_eq!(user["status"], "passed", "{user}");
    assert!(user["timing"]["median_s"].as_f64().unwrap() > 0.0);
    assert_eq!(user["source"]["kernel"], "gemm_tiled");
    assert_eq!(user["source"]["dialect"], "opencl_c");
    assert_eq!(user["source"]["path"], path.as_str());
    assert_eq!(user["source"]["sha256"].as_str().unwrap().len(), 64);
    // The built-in rows run in the same invocation and carry no source.
    for (device, variant) in [
        ("opencl:0", "tiled"),
        ("cpu:0", "tiled"),
        ("cpu:0", "vendor"),
    ] {
        let r = row(&doc, device, variant);
        assert_eq!(r["status"], "passed", "{r}");
        assert!(r.get("source").is_none(), "{r}");
    }
    // The CPU takes builtins only: the OpenCL source is unsupported there, with the reason.
    let cpu = row(&doc, "cpu:0", "user:my_gemm");
    assert_eq!(cpu["status"], "unsupported");
    assert!(
        cpu["reason"].as_str().unwrap().contains("opencl_c"),
        "{cpu}"
    );
}

#[test]
fn a_wrong_opencl_gemm_fails_validation_with_the_first_bad_element() {
    if !present("opencl") {
        return;
    }
    let (out, doc) = run(
        "opencl",
        &[format!("gemm_tiled={}", fixture("wrong_gemm.cl"))],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let user = row(&doc, "opencl:0", "user:wrong_gemm");
    assert_eq!(user["status"], "failed");
    assert!(
        user["reason"].as_str().unwrap().starts_with("C[0,0]: got"),
        "{user}"
    );
    // Every other case still ran.
    assert_eq!(row(&doc, "opencl:0", "tiled")["status"], "passed");
    assert_eq!(row(&doc, "opencl:0", "naive")["status"], "passed");
}

#[test]
fn a_kernel_that_does_not_compile_shows_the_compiler_log() {
    if !present("opencl") {
        return;
    }
    let (out, doc) = run(
        "opencl",
        &[format!("gemm_tiled={}", fixture("broken_gemm.cl"))],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let reason = row(&doc, "opencl:0", "user:broken_gemm")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("failed to compile"), "{reason}");
    assert!(reason.contains("undeclared identifier 'acc'"), "{reason}");
    // The log is printed too, not only saved.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("undeclared identifier 'acc'"), "{stdout}");
    assert_eq!(row(&doc, "opencl:0", "tiled")["status"], "passed");
}

#[test]
fn a_missing_entry_point_or_wrong_argument_count_is_a_clear_error() {
    if !present("opencl") {
        return;
    }
    let kernels = [
        format!("gemm_tiled={}", fixture("misnamed_gemm.cl")),
        format!("gemm_tiled={}", fixture("few_args_gemm.cl")),
    ];
    let (out, doc) = run("opencl", &kernels, &[]);
    assert_eq!(out.status.code(), Some(1));
    let misnamed = row(&doc, "opencl:0", "user:misnamed_gemm")["reason"].to_string();
    assert!(
        misnamed.contains("no kernel `gemm_tiled` in the program"),
        "{misnamed}"
    );
    let few = row(&doc, "opencl:0", "user:few_args_gemm")["reason"].to_string();
    assert!(
        few.contains("6 arguments given, the kernel takes 3"),
        "{few}"
    );
    assert_eq!(row(&doc, "opencl:0", "tiled")["status"], "passed");
}

#[test]
fn spirv_and_glsl_kernels_run_on_vulkan() {
    if !present("vulkan") {
        return;
    }
    // SPIR-V carries no launch shape of its own: it is given on the command line.
    let mut kernels = vec![format!(
        "gemm_tiled={}@threads=8x8",
        fixture("my_gemm_spv.f32.spv")
    )];
    let glslc = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("glslc").is_file()));
    if glslc {
        kernels.push(format!("gemm_tiled={}", fixture("my_gemm.comp")));
    }
    let (out, doc) = run("vulkan", &kernels, &["--dtype", "f32,f16"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let spv = row(&doc, "vulkan:0", "user:my_gemm_spv");
    assert_eq!(spv["status"], "passed", "{spv}");
    assert_eq!(spv["source"]["dialect"], "spir_v");
    if glslc {
        let glsl = doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["variant"] == "user:my_gemm")
            .map(|r| r["status"].as_str().unwrap())
            .collect::<Vec<_>>();
        // f32 and f16: glslc compiles the shader once per dtype.
        assert_eq!(glsl, ["passed", "passed"]);
    }
}

#[test]
fn bad_kernel_arguments_are_usage_errors() {
    let cases: [(&[&str], &str); 5] = [
        (&["--kernel", "gemm_tiled"], "expected NAME=PATH"),
        (
            &["--kernel", "gemm_fastest=x.cl"],
            "not a kernel of the kernel ABI",
        ),
        (&["--kernel", "gemm_tiled=/no/such/file.cl"], "no such file"),
        (
            &["--kernel", "gemm_tiled=Cargo.toml"],
            "unknown kernel file type",
        ),
        (
            &["--kernel", "attn_decode_pv=tests/kernels/my_gemm.cl"],
            "no selected workload and variant launches `attn_decode_pv`",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["run", "--backend", "cpu", "--workload", "gemm"];
        args.extend(extra);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_halbench"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn glsl_without_glslc_says_so() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_halbench"))
        .args(["run", "--backend", "cpu", "--workload", "gemm", "--kernel"])
        .arg(format!("gemm_tiled={}", fixture("my_gemm.comp")))
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("needs glslc on PATH"), "{stderr}");
}

#[test]
fn an_fp8_cache_read_as_int8_fails_validation_and_the_int8_cache_passes() {
    if !present("opencl") {
        return;
    }
    let dir = scratch("user-kernels-kv8");
    let json = dir.join("run.json");
    let kernel = format!("attn_kv8_scores={}", fixture("kv8_as_int8.cl"));
    let out = halbench(&[
        "run",
        "--backend",
        "opencl",
        "--workload",
        "attention.kv8",
        "--dtype",
        "f32",
        "--shape",
        "kv=8,page=7,b=3,h=4,hkv=2,l=50,lmin=1,d=16",
        "--kernel",
        &kernel,
        "--json",
        &json.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // The kernel serves both variants, so each row names the one it stood in for.
    assert_eq!(
        row(&doc, "opencl:0", "user:kv8_as_int8@int8")["status"],
        "passed"
    );
    let fp8 = row(&doc, "opencl:0", "user:kv8_as_int8@fp8");
    assert_eq!(fp8["status"], "failed", "{fp8}");
    assert!(fp8["reason"].as_str().unwrap().contains("O[b="), "{fp8}");
    for variant in ["int8", "fp8"] {
        assert_eq!(row(&doc, "opencl:0", variant)["status"], "passed");
    }
}
