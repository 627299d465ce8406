//! Plain values that cross the HAL: kernel sources, launch shapes, arguments, dtypes.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Buffer;

/// The language a kernel is written in.
///
/// `Builtin` names a kernel the backend implements natively under its canonical name (the
/// CPU backend's Rust functions, cuBLAS, aclnn); its `code` is empty.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Dialect {
    Builtin,
    CudaC,
    // Spelled as Display spells it; older result files said `open_cl_c`.
    #[serde(rename = "opencl_c", alias = "open_cl_c")]
    OpenClC,
    SpirV,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Builtin => "builtin",
            Dialect::CudaC => "cuda_c",
            Dialect::OpenClC => "opencl_c",
            Dialect::SpirV => "spir_v",
        })
    }
}

/// Element types of the workloads. Half types are stored as 16 bits, fp8 types as 8 (OCP
/// FP8: e4m3 without infinities, saturating at ±448; e5m2 with them, at ±57344); kernels
/// accumulate in f32.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DType {
    F32,
    F16,
    BF16,
    #[serde(rename = "fp8e4m3")]
    F8E4M3,
    #[serde(rename = "fp8e5m2")]
    F8E5M2,
}

impl DType {
    /// Every dtype halbench knows, in the order results and tables list them.
    pub const ALL: [DType; 5] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::F8E4M3,
        DType::F8E5M2,
    ];
    /// The 32- and 16-bit floats: what every workload that is not fp8-aware runs.
    pub const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];
    /// The 8-bit floats: inputs and outputs carry a per-tensor scale (kernels/README.md).
    pub const FP8: [DType; 2] = [DType::F8E4M3, DType::F8E5M2];

    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::F8E4M3 | DType::F8E5M2 => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F8E4M3 => "fp8e4m3",
            DType::F8E5M2 => "fp8e5m2",
        }
    }

    // What follows is everything halbench knows about a dtype, here so that a new one is
    // added in this file (the compiler points at each match) and not across the crates.

    pub fn is_fp8(self) -> bool {
        matches!(self, DType::F8E4M3 | DType::F8E5M2)
    }

    /// Unit roundoff: the largest relative error of one rounding to this type (in its
    /// normal range).
    pub fn unit_roundoff(self) -> f64 {
        match self {
            DType::F32 => f64::powi(2.0, -24),
            DType::F16 => f64::powi(2.0, -11),
            DType::BF16 => f64::powi(2.0, -8),
            DType::F8E4M3 => f64::powi(2.0, -4),
            DType::F8E5M2 => f64::powi(2.0, -3),
        }
    }

    /// The largest finite value; stores saturate to it.
    pub fn max_finite(self) -> f64 {
        match self {
            DType::F32 => f64::from(f32::MAX),
            DType::F16 => 65504.0,
            DType::BF16 => f64::from(half::bf16::MAX.to_f32()),
            DType::F8E4M3 => 448.0,
            DType::F8E5M2 => 57344.0,
        }
    }

    /// The smallest positive (subnormal) value: below it, a rounding's error is absolute,
    /// at most half of it.
    pub fn min_positive(self) -> f64 {
        match self {
            DType::F32 => f64::powi(2.0, -149),
            DType::F16 => f64::powi(2.0, -24),
            DType::BF16 => f64::powi(2.0, -133),
            DType::F8E4M3 => f64::powi(2.0, -9),
            DType::F8E5M2 => f64::powi(2.0, -16),
        }
    }

    /// Writes `v`, rounded to this type, as `size()` little-endian bytes. fp8 saturates
    /// to ±`max_finite()` (as `cvt.satfinite` and cuBLASLt do) instead of overflowing.
    pub fn encode(self, v: f32, out: &mut [u8]) {
        let saturated = || v.clamp(-self.max_finite() as f32, self.max_finite() as f32);
        match self {
            DType::F32 => out.copy_from_slice(&v.to_le_bytes()),
            DType::F16 => out.copy_from_slice(&half::f16::from_f32(v).to_le_bytes()),
            DType::BF16 => out.copy_from_slice(&half::bf16::from_f32(v).to_le_bytes()),
            DType::F8E4M3 => out[0] = float8::F8E4M3::from_f32(saturated()).to_bits(),
            DType::F8E5M2 => out[0] = float8::F8E5M2::from_f32(saturated()).to_bits(),
        }
    }

    /// Reads one element of `size()` little-endian bytes, widened to f64.
    pub fn decode(self, e: &[u8]) -> f64 {
        match self {
            DType::F32 => f64::from(f32::from_le_bytes([e[0], e[1], e[2], e[3]])),
            DType::F16 => f64::from(half::f16::from_le_bytes([e[0], e[1]]).to_f32()),
            DType::BF16 => f64::from(half::bf16::from_le_bytes([e[0], e[1]]).to_f32()),
            DType::F8E4M3 => f64::from(float8::F8E4M3::from_bits(e[0]).to_f32()),
            DType::F8E5M2 => f64::from(float8::F8E5M2::from_bits(e[0]).to_f32()),
        }
    }

    /// The C-like dialects' storage type for this dtype, given the dialect's names for
    /// the 16-bit ones, and the `DTYPE_*` flag the kernels branch on.
    pub fn c_type<'a>(self, half: &'a str, bf16: &'a str) -> (&'a str, &'static str) {
        match self {
            DType::F32 => ("float", "DTYPE_F32"),
            DType::F16 => (half, "DTYPE_F16"),
            DType::BF16 => (bf16, "DTYPE_BF16"),
            DType::F8E4M3 => ("uchar", "DTYPE_F8E4M3"),
            DType::F8E5M2 => ("uchar", "DTYPE_F8E5M2"),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DType::ALL
            .into_iter()
            .find(|d| d.name() == s.to_ascii_lowercase())
            .ok_or_else(|| {
                let known: Vec<&str> = DType::ALL.iter().map(|d| d.name()).collect();
                format!("unknown dtype `{s}` (known: {})", known.join(", "))
            })
    }
}

/// A kernel to compile. Backends cache compiled kernels by everything in here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelSource {
    /// Canonical name (`gemm_tiled`), used for builtin lookup and in every error.
    pub name: String,
    pub dialect: Dialect,
    /// Source text (UTF-8) or SPIR-V words (little-endian bytes); empty for `Builtin`.
    pub code: Cow<'static, [u8]>,
    /// Entry point inside `code`; equal to `name` for the shipped kernels.
    pub entry: String,
    /// `-D` macros for CUDA C and OpenCL C, specialisation constants for SPIR-V, options for
    /// builtins (`T=f16`).
    pub defines: Vec<(String, String)>,
}

impl KernelSource {
    /// A backend-native kernel known by its canonical name.
    pub fn builtin(name: &str, defines: Vec<(String, String)>) -> Self {
        KernelSource {
            name: name.into(),
            dialect: Dialect::Builtin,
            code: Cow::Borrowed(&[]),
            entry: name.into(),
            defines,
        }
    }

    /// The value of a define, if set.
    pub fn define(&self, key: &str) -> Option<&str> {
        self.defines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A launch shape: CUDA grid and block; OpenCL global = groups × threads; Vulkan
/// `vkCmdDispatch(groups)` with `local_size = threads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dims {
    pub groups: [u32; 3],
    pub threads: [u32; 3],
}

impl Dims {
    /// One-dimensional launch.
    pub fn linear(groups: u32, threads: u32) -> Self {
        Dims {
            groups: [groups, 1, 1],
            threads: [threads, 1, 1],
        }
    }

    /// Rejects empty launches; backends add their own limits on top.
    pub fn validate(&self) -> Result<(), String> {
        if self.groups.contains(&0) || self.threads.contains(&0) {
            return Err(format!("launch dims must be non-zero: {self:?}"));
        }
        Ok(())
    }
}

/// One kernel argument, over whatever names a buffer: a [`Buffer`] handle ([`Arg`]), a
/// plan's buffer index, a backend's native memory. The kernel ABI (kernels/README.md) puts
/// buffers first, in plan order, then scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgOf<B> {
    Buffer(B),
    U32(u32),
    I32(i32),
    F32(f32),
}

/// An argument as callers pass it to [`crate::Device::launch`].
pub type Arg<'a> = ArgOf<&'a Buffer>;

impl<B> ArgOf<B> {
    /// The same argument with its buffer named another way (`None` stops the list).
    pub fn map_buffer<C, E>(self, f: impl FnOnce(B) -> Result<C, E>) -> Result<ArgOf<C>, E> {
        Ok(match self {
            ArgOf::Buffer(b) => ArgOf::Buffer(f(b)?),
            ArgOf::U32(v) => ArgOf::U32(v),
            ArgOf::I32(v) => ArgOf::I32(v),
            ArgOf::F32(v) => ArgOf::F32(v),
        })
    }

    pub fn is_buffer(&self) -> bool {
        matches!(self, ArgOf::Buffer(_))
    }
}

#[cfg(test)]
mod tests {
    use super::DType;

    #[test]
    fn fp8_codes_round_trip_and_stores_saturate() {
        for dtype in DType::FP8 {
            assert_eq!(dtype.size(), 1);
            assert_eq!(dtype.name().parse::<DType>(), Ok(dtype));
            let mut out = [0u8];
            for code in 0..=255u8 {
                let v = dtype.decode(&[code]);
                if !v.is_finite() {
                    continue; // NaN (and e5m2's infinities) are never stored
                }
                dtype.encode(v as f32, &mut out);
                assert_eq!(dtype.decode(&out), v, "{dtype} code {code:#04x}");
            }
            for big in [1e6f32, f32::INFINITY] {
                dtype.encode(big, &mut out);
                assert_eq!(dtype.decode(&out), dtype.max_finite(), "{dtype} {big}");
                dtype.encode(-big, &mut out);
                assert_eq!(dtype.decode(&out), -dtype.max_finite(), "{dtype} -{big}");
            }
            // One rounding stays within the unit roundoff in the normal range, and within
            // half the smallest subnormal below it.
            for i in 1..2000 {
                let v = (i as f32 * 0.37).sin() * dtype.max_finite() as f32 * 0.9;
                dtype.encode(v, &mut out);
                let err = (dtype.decode(&out) - f64::from(v)).abs();
                let bound = dtype.unit_roundoff() * f64::from(v.abs()) + 0.5 * dtype.min_positive();
                assert!(err <= bound, "{dtype}: {v} -> {}", dtype.decode(&out));
            }
        }
    }

    #[test]
    fn an_unknown_dtype_lists_the_known_ones() {
        let e = "fp4".parse::<DType>().unwrap_err();
        assert!(
            e.contains("fp8e4m3") && e.contains("fp8e5m2") && e.contains("bf16"),
            "{e}"
        );
    }
}
