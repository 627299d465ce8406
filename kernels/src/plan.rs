//! A plan: the buffers a case needs and the steps that compute it, in the kernel ABI's
//! terms. Workloads build plans; the executor runs them on any device.

use std::sync::{Arc, OnceLock};

use halbench_hal::{DType, Dims};

use crate::custom::{CustomKernel, LaunchShape};
use crate::data;
use crate::workloads::MAX_GROUPS;

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
    make: Option<Generator>,
}

/// Makes a generated input's bytes on first use (quantised weights, a KV cache's bytes).
#[derive(Clone)]
struct Generator(Arc<dyn Fn() -> Vec<u8> + Send + Sync>);

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Generator")
    }
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
            make: None,
        }
    }

    /// A buffer of `bytes` bytes that `make` generates on first use, as `input`'s are:
    /// for inputs a workload builds itself (quantised weights), so they too are made
    /// only once the case is known to fit. `make` must return exactly `bytes` bytes.
    pub fn generated(
        name: &'static str,
        dtype: DType,
        bytes: u64,
        make: impl Fn() -> Vec<u8> + Send + Sync + 'static,
    ) -> Self {
        BufferSpec {
            name,
            bytes,
            input: Some(dtype),
            upload: true,
            data: OnceLock::new(),
            make: Some(Generator(Arc::new(make))),
        }
    }

    /// A buffer holding the caller's own bytes (`dtype` says how the reference reads
    /// them), uploaded before the run.
    pub fn with_data(name: &'static str, dtype: DType, bytes: Vec<u8>) -> Self {
        BufferSpec {
            name,
            bytes: bytes.len() as u64,
            input: Some(dtype),
            upload: true,
            data: OnceLock::from(bytes),
            make: None,
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
            make: None,
        }
    }

    /// The input's bytes (generated on first call); empty for outputs.
    pub fn data(&self) -> &[u8] {
        match self.input {
            None => &[],
            Some(dtype) => self.data.get_or_init(|| match &self.make {
                Some(Generator(make)) => {
                    let bytes = make();
                    debug_assert_eq!(bytes.len() as u64, self.bytes, "{}", self.name);
                    bytes
                }
                None => {
                    let n = self.bytes as usize / dtype.size();
                    data::random(dtype, n, data::seed(self.name))
                }
            }),
        }
    }
}

/// A scalar or buffer argument, buffers by index into `Plan::buffers`.
pub type PlanArg = halbench_hal::ArgOf<usize>;

/// One kernel launch: a canonical kernel (or a custom one standing in for it), its dtype,
/// defines, launch shape and arguments.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Canonical name (kernels/README.md); the registry's sources are used unless
    /// `custom` is set.
    pub kernel: &'static str,
    /// `T` is defined from it.
    pub dtype: DType,
    pub defines: Vec<(String, String)>,
    pub dims: Dims,
    pub args: Vec<PlanArg>,
    /// Output elements the launch covers per dimension (x fastest), so a custom kernel's
    /// own [`LaunchShape`] can be turned into group counts. `None`: the plan's `dims` are
    /// the only shape this launch can take.
    pub extent: Option<[u64; 3]>,
    /// A kernel from outside the registry; when set, only its sources are compiled.
    pub custom: Option<Arc<CustomKernel>>,
}

impl Launch {
    pub fn new(kernel: &'static str, dtype: DType, dims: Dims, args: Vec<PlanArg>) -> Self {
        Launch {
            kernel,
            dtype,
            defines: Vec::new(),
            dims,
            args,
            extent: None,
            custom: None,
        }
    }

    pub fn defines(mut self, defines: Vec<(String, String)>) -> Self {
        self.defines = defines;
        self
    }

    pub fn extent(mut self, extent: [u64; 3]) -> Self {
        self.extent = Some(extent);
        self
    }

    /// Runs `kernel` instead of the registry's source, with its launch shape if it has one.
    /// Errors when the kernel sets a launch shape and this launch declares no extent.
    pub fn use_custom(&mut self, kernel: Arc<CustomKernel>) -> Result<(), String> {
        if let Some(shape) = kernel.launch {
            self.dims = self.shaped(&shape)?;
        }
        self.custom = Some(kernel);
        Ok(())
    }

    /// The dims of `shape` over this launch's extent: ⌈extent / per_group⌉ groups per
    /// dimension, at most `MAX_GROUPS` (grid-stride kernels cover the rest).
    pub fn shaped(&self, shape: &LaunchShape) -> Result<Dims, String> {
        let extent = self.extent.ok_or_else(|| {
            format!(
                "kernel `{}`: this plan fixes its launch shape (no output extent is declared), so a custom launch shape cannot apply",
                self.kernel
            )
        })?;
        let mut groups = [1u32; 3];
        for (d, g) in groups.iter_mut().enumerate() {
            *g = self::groups(extent[d], shape.per_group[d]).clamp(1, MAX_GROUPS);
        }
        Ok(Dims {
            groups,
            threads: shape.threads,
        })
    }
}

/// One enqueued operation of the timed region.
#[derive(Debug, Clone)]
pub enum Step {
    Launch(Launch),
    /// Write the buffer's `data` from the host.
    Write {
        buffer: usize,
    },
    /// Read the whole buffer to the host.
    Read {
        buffer: usize,
    },
    /// Copy one whole buffer into another of the same size.
    Copy {
        src: usize,
        dst: usize,
    },
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

    /// The kernels the plan launches, by canonical name.
    pub fn kernels(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.steps.iter().filter_map(|s| match s {
            Step::Launch(l) => Some(l.kernel),
            _ => None,
        })
    }

    /// The value of `key` in the first launch that defines it: how a check learns what
    /// the plan asked its kernels to read.
    pub fn define(&self, key: &str) -> Option<&str> {
        self.steps.iter().find_map(|s| match s {
            Step::Launch(l) => l
                .defines
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str()),
            _ => None,
        })
    }

    /// Makes every launch of `kernel.name` run `kernel`. Errors when no step launches it,
    /// or its launch shape cannot apply.
    pub fn use_custom(&mut self, kernel: &Arc<CustomKernel>) -> Result<(), String> {
        let mut found = false;
        for step in &mut self.steps {
            if let Step::Launch(l) = step {
                if l.kernel == kernel.name {
                    l.use_custom(kernel.clone())?;
                    found = true;
                }
            }
        }
        if found {
            Ok(())
        } else {
            Err(format!("the plan launches no kernel `{}`", kernel.name))
        }
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
