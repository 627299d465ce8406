//! The shared conformance suite on the CPU backend loaded as a plugin, through the C ABI
//! and the loader: the same trials as the in-process CPU backend.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use halbench_kernels::conformance::{main as conformance, Expectations};
use halbench_plugin::PluginBackend;

/// `target/<profile>/libhalbench_cpu_plugin.so`, built by cargo before this test.
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile.join(format!(
        "{}halbench_cpu_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

fn main() -> ExitCode {
    let path = library();
    match PluginBackend::load(&path) {
        Ok(plugin) => conformance(Arc::new(plugin), Expectations::default()),
        Err(e) => {
            eprintln!("the CPU plugin at {} does not load: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
