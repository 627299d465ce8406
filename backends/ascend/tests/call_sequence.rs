//! The Ascend plugin against the stand-in CANN runtime (a test double): the calls it
//! makes, in order and with their arguments, its error paths, and that it leaves nothing
//! behind.

mod common;
use common as standin;

use std::ffi::{c_char, CStr};

use halbench_hal::{Backend, Error};
use halbench_kernels::conformance::{run_case, Failure};
use halbench_kernels::{Case, Scale};

type Log = unsafe extern "C" fn() -> *const c_char;
type Fail = unsafe extern "C" fn(*const c_char);
type Live = unsafe extern "C" fn() -> i32;

fn log(lib: &str, f: &str) -> String {
    let (_l, log) = standin::call::<Log>(lib, f);
    // SAFETY: the stand-in returns its NUL-terminated log.
    unsafe { CStr::from_ptr(log()) }
        .to_string_lossy()
        .into_owned()
}

fn fail(lib: &str, f: &str, name: &str) {
    let (_l, set) = standin::call::<Fail>(lib, f);
    let name = std::ffi::CString::new(name).unwrap();
    // SAFETY: the stand-in copies the name.
    unsafe { set(name.as_ptr()) };
}

fn in_order(log: &str, lines: &[&str]) {
    let mut at = 0;
    for line in lines {
        match log[at..].find(line) {
            Some(i) => at += i + line.len(),
            None => panic!("`{line}` missing or out of order in:\n{log}"),
        }
    }
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_plugin_drives_acl_and_aclnn_in_the_documented_order() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let plugin = standin::plugin();
    assert_eq!(plugin.name(), "ascend");
    let info = &plugin.devices().unwrap()[0];
    assert_eq!(info.name, "Ascend910B (stand-in)");
    assert_eq!(info.extras["aclnn.cubeMathType"], "0 (KEEP_DTYPE)");
    {
        let mut d = plugin.open(0).unwrap();
        let gemm = halbench_kernels::workload("gemm").unwrap();
        let prefill = halbench_kernels::workload("attention.prefill").unwrap();
        let decode = halbench_kernels::workload("attention.decode").unwrap();
        let paged = halbench_kernels::workload("attention.paged").unwrap();
        let grouped = halbench_kernels::workload("gemm.grouped").unwrap();
        for w in [gemm, prefill, decode, paged, grouped] {
            // Pages aclnn takes (a multiple of 16 keys); the others are unsupported.
            for case in Case::all_of(w, Scale::Smoke, d.info())
                .into_iter()
                .filter(|c| c.variant == "vendor" && c.shape.get("page") % 16 == 0)
            {
                let r = run_case(d.as_mut(), &case);
                // Atlas A2 has no fp8: every fp8 case is unsupported, saying so.
                if case.dtype.is_fp8() {
                    let e = format!("{:?}", r.err());
                    assert!(
                        e.contains("Unsupported") && e.contains("no fp8"),
                        "{case}: {e}"
                    );
                    continue;
                }
                assert!(r.is_ok(), "{case}: {:?}", r.err());
            }
        }
    }
    let acl = log("libascendcl.so", "standin_acl_log");
    let opapi = log("libopapi.so", "standin_opapi_log");
    in_order(
        &acl,
        &[
            "aclInit config=NULL",
            "aclrtSetDevice 0",
            "aclrtCreateStream",
            "aclrtMalloc 4096",
            "aclrtFree 4096",
            "aclrtDestroyStream",
            "aclrtResetDevice 0",
        ],
    );
    in_order(&opapi, &[
        "aclnnMatmulGetWorkspaceSize M=37 N=29 K=45 dtype=0 cubeMathType=0",
        "aclnnMatmul workspace=4096",
        "dtype=1 cubeMathType=0",
        "dtype=27 cubeMathType=0",
        "aclnnFusedInferAttentionScoreGetWorkspaceSize B=1 N=4 KVN=2 Sq=37 Skv=37 D=16 dtype=0 causal=0",
        "aclnnFusedInferAttentionScore workspace=8192",
        "causal=1",
        "Sq=1",
        // The block table, the lengths and the block size reach aclnn (tensors and int
        // arrays all destroyed: checked below).
        "aclnnFusedInferAttentionScoreGetWorkspaceSize paged B=3 N=4 KVN=2 blocks=",
        "block=16 D=16 dtype=0",
        "aclnnFusedInferAttentionScore workspace=8192",
        // One weight tensor per expert that got rows, the group list their row ends.
        "aclnnGroupedMatmulGetWorkspaceSize groups=",
        "aclnnGroupedMatmul workspace=2048",
    ]);
    assert!(
        !acl.contains("ERROR") && !opapi.contains("ERROR"),
        "{acl}\n{opapi}"
    );
    let (_a, acl_live) = standin::call::<Live>("libascendcl.so", "standin_acl_live");
    let (_o, tensors) = standin::call::<Live>("libopapi.so", "standin_opapi_live");
    // SAFETY: plain counters.
    unsafe {
        assert_eq!(
            acl_live(),
            0,
            "device memory, streams or events left behind"
        );
        assert_eq!(tensors(), 0, "aclTensor or aclIntArray objects left behind");
    }
}

#[test]
fn runtime_errors_come_back_with_the_function_and_the_acl_message() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let plugin = standin::plugin();
    let mut d = plugin.open(0).unwrap();
    fail("libascendcl.so", "standin_acl_fail", "aclrtMalloc");
    let e = d.alloc(1024).expect_err("aclrtMalloc fails");
    fail("libascendcl.so", "standin_acl_fail", "");
    assert!(matches!(e, Error::OutOfMemory { .. }), "{e}");
    assert!(
        e.to_string().contains("aclrtMalloc") && e.to_string().contains("failed as the test asked"),
        "{e}"
    );

    fail(
        "libopapi.so",
        "standin_opapi_fail",
        "aclnnMatmulGetWorkspaceSize",
    );
    let gemm = halbench_kernels::workload("gemm").unwrap();
    let case = Case::all_of(gemm, Scale::Smoke, d.info())
        .into_iter()
        .find(|c| c.variant == "vendor")
        .unwrap();
    let e = format!(
        "{:?}",
        run_case(d.as_mut(), &case).expect_err("the operator fails")
    );
    fail("libopapi.so", "standin_opapi_fail", "");
    assert!(
        e.contains("aclnnMatmulGetWorkspaceSize failed with ACL error 507899"),
        "{e}"
    );

    // Kernels aclnn does not provide here are unsupported, not errors.
    let copy = halbench_kernels::workload("gemm").unwrap();
    let tiled = Case::all_of(copy, Scale::Smoke, d.info())
        .into_iter()
        .find(|c| c.variant == "tiled")
        .unwrap();
    assert!(matches!(
        run_case(d.as_mut(), &tiled),
        Err(Failure::Unsupported(_))
    ));
}
