//! The shared conformance suite on the CPU backend loaded as a plugin, through the C ABI
//! and the loader: the same trials as the in-process CPU backend.

use std::process::ExitCode;
use std::sync::Arc;

use halbench_kernels::conformance::{main as conformance, Expectations};
use halbench_plugin::PluginBackend;

fn main() -> ExitCode {
    let path = halbench_plugin::built_cdylib("halbench_cpu_plugin");
    match PluginBackend::load(&path) {
        Ok(plugin) => conformance(Arc::new(plugin), Expectations::default()),
        Err(e) => {
            eprintln!("the CPU plugin at {} does not load: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
