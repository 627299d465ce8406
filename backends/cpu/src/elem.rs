//! Element types the kernels are generic over. Everything is computed in f32; half types
//! are converted on load and rounded on store, a slice at a time so the conversion uses
//! F16C / AVX-512 BF16 where the CPU has them.

use bytemuck::Pod;
use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

pub(crate) trait Elem: Pod + Send + Sync + 'static {
    fn to_f32(self) -> f32;
    fn from_f32(v: f32) -> Self;

    /// Converts `src` into `dst` (same length).
    fn load(src: &[Self], dst: &mut [f32]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.to_f32();
        }
    }

    /// Rounds `src` into `dst` (same length).
    fn store(src: &[f32], dst: &mut [Self]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = Self::from_f32(*s);
        }
    }

    /// The slice itself when `Self` is f32, so f32 kernels skip the conversion copy.
    fn as_f32(src: &[Self]) -> Option<&[f32]> {
        let _ = src;
        None
    }

    /// A row as f32: the slice itself for f32, else converted into `scratch`.
    fn row<'s>(src: &'s [Self], scratch: &'s mut [f32]) -> &'s [f32] {
        match Self::as_f32(src) {
            Some(s) => s,
            None => {
                let out = &mut scratch[..src.len()];
                Self::load(src, out);
                out
            }
        }
    }
}

impl Elem for f32 {
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(v: f32) -> Self {
        v
    }
    fn load(src: &[Self], dst: &mut [f32]) {
        dst.copy_from_slice(src);
    }
    fn store(src: &[f32], dst: &mut [Self]) {
        dst.copy_from_slice(src);
    }
    fn as_f32(src: &[Self]) -> Option<&[f32]> {
        Some(src)
    }
}

impl Elem for f16 {
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v)
    }
    fn load(src: &[Self], dst: &mut [f32]) {
        src.convert_to_f32_slice(dst);
    }
    fn store(src: &[f32], dst: &mut [Self]) {
        dst.convert_from_f32_slice(src);
    }
}

impl Elem for bf16 {
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
    fn load(src: &[Self], dst: &mut [f32]) {
        src.convert_to_f32_slice(dst);
    }
    fn store(src: &[f32], dst: &mut [Self]) {
        dst.convert_from_f32_slice(src);
    }
}

/// An fp8 code as stored: OCP e4m3 (`E4 = true`) or e5m2. Loads decode through a
/// 256-entry table (one L1-resident lookup per element, the CPU's fastest decode); stores
/// round to nearest even through `DType::encode` (the `float8` crate), saturating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(transparent)]
pub(crate) struct Fp8<const E4: bool>(u8);

pub(crate) type E4M3 = Fp8<true>;
pub(crate) type E5M2 = Fp8<false>;

static E4M3_TABLE: std::sync::LazyLock<[f32; 256]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|b| halbench_hal::DType::F8E4M3.decode(&[b as u8]) as f32)
});
static E5M2_TABLE: std::sync::LazyLock<[f32; 256]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|b| halbench_hal::DType::F8E5M2.decode(&[b as u8]) as f32)
});

impl<const E4: bool> Fp8<E4> {
    fn table() -> &'static [f32; 256] {
        if E4 {
            &E4M3_TABLE
        } else {
            &E5M2_TABLE
        }
    }
}

impl<const E4: bool> Elem for Fp8<E4> {
    fn to_f32(self) -> f32 {
        Self::table()[usize::from(self.0)]
    }
    fn from_f32(v: f32) -> Self {
        let mut b = [0u8];
        let dtype = if E4 {
            halbench_hal::DType::F8E4M3
        } else {
            halbench_hal::DType::F8E5M2
        };
        dtype.encode(v, &mut b);
        Fp8(b[0])
    }
    fn load(src: &[Self], dst: &mut [f32]) {
        let table = Self::table();
        for (d, s) in dst.iter_mut().zip(src) {
            *d = table[usize::from(s.0)];
        }
    }
}
