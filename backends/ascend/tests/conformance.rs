//! The shared conformance suite on the Ascend plugin, loaded through the plugin ABI and
//! running on the stand-in CANN runtime (a test double backed by host memory).

mod common;
use common as standin;

use std::process::ExitCode;
use std::sync::Arc;

use halbench_kernels::conformance::{main as conformance, Expectations};

fn main() -> ExitCode {
    conformance(Arc::new(standin::plugin()), Expectations::default())
}
