//! A plan: the buffers a case needs and the steps that compute it, in the kernel ABI's
//! terms. Workloads build plans; the executor runs them on any device.

use std::sync::OnceLock;

use halbench_hal::{DType, Dims};

use crate::data;

/// One device buffer. Inputs are generated on first use, so a plan is cheap to build and
/// a case too big for the device is refused before gigabytes of inputs are made.
#[derive(Debug, Clone)]
pub struct BufferSpec {
    pub name: &'static str,
    pub bytes: u64,
    /// Random inputs of this dtype, seeded by the buffer's name; `None` for outputs.
    pub input: Option<DType>,
    /// Upload the input while preparing. False for a host-to-device transfer, whose upload
    /// is the timed step itself.
    pub upload: bool,
    data: OnceLock<Vec<u8>>,
}

impl BufferSpec {
    /// A buffer of `elements` random values, uploaded before the run.
    pub fn input(name: &'static str, dtype: DType, elements: u64) -> Self {
        BufferSpec {
            name,
            bytes: elements * dtype.size() as u64,
            input: Some(dtype),
            upload: true,
            data: OnceLock::new(),
        }
    }

    /// A buffer the steps write.
    pub fn output(name: &'static str, bytes: u64) -> Self {
        BufferSpec {
            name,
            bytes,
            input: None,
            upload: false,
            data: OnceLock::new(),
        }
    }

    /// The input's bytes (generated on first call); empty for outputs.
    pub fn data(&self) -> &[u8] {
        match self.input {
            None => &[],
            Some(dtype) => self.data.get_or_init(|| {
                let n = self.bytes as usize / dtype.size();
                data::random(dtype, n, data::seed(self.name))
            }),
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
    /// Wait on the host for everything enqueued so far. A plan with one is timed by the
    /// host clock: device timers cannot see the host waiting.
    Sync,
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

    /// Host memory the plan needs: its inputs (kept for the reference) and the output
    /// read back.
    pub fn host_bytes(&self) -> u64 {
        let inputs: u64 = self
            .buffers
            .iter()
            .filter(|b| b.input.is_some())
            .map(|b| b.bytes)
            .sum();
        let output = match self.output {
            Output::Buffer(i) => self.buffers[i].bytes,
            Output::HostRead => self.buffers.iter().map(|b| b.bytes).max().unwrap_or(0),
        };
        inputs + output
    }

    /// True when the plan waits for the device on the host (see [`Step::Sync`]).
    pub fn host_waits(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::Sync))
    }

    /// The initial contents of a buffer (inputs only).
    pub fn data(&self, buffer: usize) -> &[u8] {
        self.buffers[buffer].data()
    }
}

/// `ceil(n / d)` as a u32 launch dimension (shapes are validated to fit u32).
pub fn groups(n: u64, d: u64) -> u32 {
    u32::try_from(n.div_ceil(d)).unwrap_or(u32::MAX)
}
