//! The CPU backend as a plugin (`libhalbench_cpu_plugin.so`): halbench loads it through
//! the C ABI like any vendor's, and the conformance suite runs on it in CI.

halbench_plugin::export_plugin!(
    backend: halbench_cpu::CpuBackend::new(),
    name: "cpu-plugin",
    version: env!("CARGO_PKG_VERSION"),
    vendor: "halbench",
    runtime_version: concat!("halbench-cpu ", env!("CARGO_PKG_VERSION")),
);
