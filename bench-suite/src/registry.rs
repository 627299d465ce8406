//! Every backend this build knows. Each is cheap to construct; drivers are only touched
//! when a backend is asked for its devices.

use std::sync::Arc;

use halbench_hal::Backend;

pub fn backends() -> Vec<Arc<dyn Backend>> {
    vec![
        Arc::new(halbench_cpu::CpuBackend::new()),
        Arc::new(halbench_opencl::OpenClBackend::new()),
        Arc::new(halbench_vulkan::VulkanBackend::new()),
        Arc::new(halbench_cuda::CudaBackend::new()),
    ]
}
