//! The shared conformance suite on every CUDA device (ignored where there is none).

use std::process::ExitCode;
use std::sync::Arc;

use halbench_kernels::conformance::{main as conformance, Expectations};

fn main() -> ExitCode {
    conformance(
        Arc::new(halbench_cuda::CudaBackend::new()),
        Expectations::default(),
    )
}
