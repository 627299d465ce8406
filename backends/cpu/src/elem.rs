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
