//! Kernel sources per dialect. `Builtin` kernels are the backend's own and need only a
//! name; source dialects (CUDA C, OpenCL C, SPIR-V) are shipped in this crate's
//! `cuda/`, `opencl/` and `spv/` folders as their backends land.

use halbench_hal::{DType, Dialect, KernelSource};

/// The source of kernel `name` in `dialect` for `dtype`, if this crate has one.
pub fn source(
    name: &str,
    dialect: Dialect,
    dtype: DType,
    defines: &[(String, String)],
) -> Option<KernelSource> {
    let mut all = vec![("T".to_string(), dtype.name().to_string())];
    all.extend(defines.iter().cloned());
    match dialect {
        Dialect::Builtin => Some(KernelSource::builtin(name, all)),
        _ => None,
    }
}

/// A kernel that must fail to compile in `dialect`, for the conformance suite.
pub fn broken(dialect: Dialect) -> Option<KernelSource> {
    match dialect {
        Dialect::Builtin => Some(KernelSource::builtin(
            "stream_copy",
            vec![("T".into(), "not_a_type".into())],
        )),
        _ => None,
    }
}
