//! A plan: the buffers a case needs and the steps that compute it, in the kernel ABI's
//! terms. Workloads build plans; the executor runs them on any device.

use halbench_hal::{DType, Dims};

/// One device buffer.
#[derive(Debug, Clone)]
pub struct BufferSpec {
    pub name: &'static str,
    pub bytes: u64,
    /// Initial contents (also what the reference reads).
    pub data: Option<Vec<u8>>,
    /// Upload `data` while preparing. False for a host-to-device transfer, whose upload
    /// is the timed step itself.
    pub upload: bool,
}

impl BufferSpec {
    /// A buffer uploaded with `data` before the run.
    pub fn input(name: &'static str, data: Vec<u8>) -> Self {
        BufferSpec {
            name,
            bytes: data.len() as u64,
            data: Some(data),
            upload: true,
        }
    }

    /// A buffer the steps write.
    pub fn output(name: &'static str, bytes: u64) -> Self {
        BufferSpec {
            name,
            bytes,
            data: None,
            upload: false,
        }
    }
}

/// A scalar or buffer argument, buffers by index into `Plan::buffers`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlanArg {
    Buffer(usize),
    U32(u32),
    I32(i32),
    F32(f32),
}

/// One enqueued operation of the timed region.
#[derive(Debug, Clone)]
pub enum Step {
    /// Launch a kernel by canonical name; `T` is defined from `dtype`.
    Launch {
        kernel: &'static str,
        dtype: DType,
        defines: Vec<(String, String)>,
        dims: Dims,
        args: Vec<PlanArg>,
    },
    /// Write the buffer's `data` from the host.
    Write { buffer: usize },
    /// Read the whole buffer to the host.
    Read { buffer: usize },
    /// Copy one whole buffer into another of the same size.
    Copy { src: usize, dst: usize },
}

/// Where the result to validate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Buffer(usize),
    /// What the last `Read` step brought to the host.
    HostRead,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub buffers: Vec<BufferSpec>,
    pub steps: Vec<Step>,
    pub output: Output,
}

impl Plan {
    /// Device memory the plan needs.
    pub fn device_bytes(&self) -> u64 {
        self.buffers.iter().map(|b| b.bytes).sum()
    }

    /// The initial contents of a buffer (inputs only).
    pub fn data(&self, buffer: usize) -> &[u8] {
        self.buffers[buffer].data.as_deref().unwrap_or(&[])
    }
}

/// `ceil(n / d)` as a u32 launch dimension (shapes are validated to fit u32).
pub fn groups(n: u64, d: u64) -> u32 {
    u32::try_from(n.div_ceil(d)).unwrap_or(u32::MAX)
}
