//! The argument list a builtin kernel sees: buffers (as bytes, cast on demand) then
//! scalars, in the kernel ABI's order. Every accessor checks, so a wrong argument list is
//! an error message, never an out-of-bounds access. Public so that code outside halbench
//! can add host kernels of its own ([`crate::register_kernel`]).

use bytemuck::Pod;
use halbench_hal::Dims;

#[derive(Debug, Clone, Copy)]
pub enum Scalar {
    U32(u32),
    I32(i32),
    F32(f32),
}

pub type KernelResult = Result<(), String>;

/// A builtin kernel: runs to completion on the rayon pool.
pub type KernelFn = fn(&mut Launch<'_>) -> KernelResult;

#[derive(Debug)]
pub struct Launch<'a> {
    pub dims: Dims,
    buffers: Vec<&'a mut [u8]>,
    scalars: Vec<Scalar>,
}

impl<'a> Launch<'a> {
    pub(crate) fn new(dims: Dims, buffers: Vec<&'a mut [u8]>, scalars: Vec<Scalar>) -> Self {
        Launch {
            dims,
            buffers,
            scalars,
        }
    }

    fn take<T: Pod>(&mut self, i: usize, len: usize) -> Result<&'a mut [T], String> {
        let slot = self
            .buffers
            .get_mut(i)
            .ok_or_else(|| format!("missing buffer argument {i}"))?;
        let bytes = std::mem::take(slot);
        let size = std::mem::size_of::<T>();
        let have = bytes.len() / size;
        if have < len {
            return Err(format!(
                "buffer argument {i} holds {have} elements of {size} bytes, the kernel needs {len}"
            ));
        }
        bytemuck::try_cast_slice_mut(&mut bytes[..len * size])
            .map_err(|e| format!("buffer argument {i}: {e}"))
    }

    /// Buffer `i` read as `len` elements. Each buffer can be taken once.
    pub fn input<T: Pod>(&mut self, i: usize, len: usize) -> Result<&'a [T], String> {
        self.take(i, len).map(|s| &*s)
    }

    /// Buffer `i` written as `len` elements.
    pub fn output<T: Pod>(&mut self, i: usize, len: usize) -> Result<&'a mut [T], String> {
        self.take(i, len)
    }

    fn scalar(&self, i: usize) -> Result<Scalar, String> {
        self.scalars
            .get(i)
            .copied()
            .ok_or_else(|| format!("missing scalar argument {i}"))
    }

    /// How many scalars the launch has (for an optional trailing one).
    pub fn scalar_count(&self) -> usize {
        self.scalars.len()
    }

    pub fn u32(&self, i: usize) -> Result<u32, String> {
        match self.scalar(i)? {
            Scalar::U32(v) => Ok(v),
            other => Err(format!("scalar argument {i} should be u32, got {other:?}")),
        }
    }

    /// A u32 scalar as a count, which must be non-zero.
    pub fn count(&self, i: usize) -> Result<usize, String> {
        match self.u32(i)? {
            0 => Err(format!("scalar argument {i} is a size and must be > 0")),
            v => Ok(v as usize),
        }
    }

    pub fn i32(&self, i: usize) -> Result<i32, String> {
        match self.scalar(i)? {
            Scalar::I32(v) => Ok(v),
            other => Err(format!("scalar argument {i} should be i32, got {other:?}")),
        }
    }

    pub fn f32(&self, i: usize) -> Result<f32, String> {
        match self.scalar(i)? {
            Scalar::F32(v) => Ok(v),
            other => Err(format!("scalar argument {i} should be f32, got {other:?}")),
        }
    }
}

/// Product of sizes, refusing overflow (shapes come from users).
pub fn product(dims: &[usize]) -> Result<usize, String> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("size {dims:?} overflows"))
}
