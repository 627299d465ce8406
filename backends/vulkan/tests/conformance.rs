//! The shared conformance suite on every Vulkan device.

use std::process::ExitCode;
use std::sync::Arc;

use halbench_kernels::conformance::{main as conformance, Expectations};

fn main() -> ExitCode {
    conformance(
        Arc::new(halbench_vulkan::VulkanBackend::new()),
        Expectations::default(),
    )
}
