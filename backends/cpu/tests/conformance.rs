//! The shared conformance suite on the CPU backend.

use std::process::ExitCode;
use std::sync::Arc;

use halbench_kernels::conformance::{main as conformance, Expectations};

fn main() -> ExitCode {
    conformance(
        Arc::new(halbench_cpu::CpuBackend::new()),
        Expectations::default(),
    )
}
