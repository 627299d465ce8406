//! Every backend this build knows, then the vendor plugins found at run time (`--plugin`,
//! `HALBENCH_PLUGIN_PATH`, `plugins/` beside the executable). Each is cheap to construct;
//! drivers are only touched when a backend is asked for its devices. A plugin that does
//! not load is still listed, as a backend that is unavailable with the reason.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use halbench_hal::{Backend, Device, DeviceInfo, Error, Result};

static PLUGINS: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// The `--plugin` paths of this invocation (set once, at start).
pub fn set_plugins(paths: Vec<PathBuf>) {
    let _ = PLUGINS.set(paths);
}

/// The `--plugin` paths given.
pub fn explicit_plugins() -> &'static [PathBuf] {
    PLUGINS.get().map_or(&[], Vec::as_slice)
}

/// A plugin file that did not load: every call says why.
#[derive(Debug)]
struct Broken {
    name: String,
    error: Error,
}

impl Backend for Broken {
    fn name(&self) -> &str {
        &self.name
    }
    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        Err(self.error.clone())
    }
    fn open(&self, _index: usize) -> Result<Box<dyn Device>> {
        Err(self.error.clone())
    }
}

/// The plugins found, loaded (or broken, with the reason).
pub fn plugins() -> Vec<Arc<dyn Backend>> {
    halbench_plugin::discover(explicit_plugins())
        .into_iter()
        .map(|found| -> Arc<dyn Backend> {
            match found.plugin {
                Ok(p) => Arc::new(p),
                Err(error) => Arc::new(Broken {
                    name: format!(
                        "plugin:{}",
                        found
                            .path
                            .file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                    ),
                    error,
                }),
            }
        })
        .collect()
}

pub fn backends() -> Vec<Arc<dyn Backend>> {
    let mut all: Vec<Arc<dyn Backend>> = vec![
        Arc::new(halbench_cpu::CpuBackend::new()),
        Arc::new(halbench_opencl::OpenClBackend::new()),
        Arc::new(halbench_vulkan::VulkanBackend::new()),
        Arc::new(halbench_cuda::CudaBackend::new()),
    ];
    all.extend(plugins());
    all
}
