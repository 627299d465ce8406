//! Attention: prefill (Q, K, V of a whole sequence, causal or not; here) and decode (one
//! query token against a KV cache; `decode.rs`), both with grouped KV heads (query head h reads KV head
//! h / (H / Hkv)) and scale 1/sqrt(D).
//!
//! The reference is the textbook two-pass softmax in f64 per query row; the kernels use
//! three launches (scores, softmax, P·V) or an online softmax.

use halbench_hal::ops::{AttnPrefillArgs, BuiltinArgs, Heads};
use halbench_hal::{DType, DeviceInfo, Dims};

use crate::check::{unit_roundoff, Checker, Validation};
use crate::data::{self, get, seed};
use crate::plan::{groups, BufferSpec, Launch, Output, Plan, PlanArg, Step};
use crate::workloads::{launch_class, LaunchClass, MAX_GROUPS};
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

pub(crate) struct Prefill;

/// The dimensions both workloads share; `keys` is S (prefill) or L (decode), `queries`
/// is S (prefill) or 1 (decode).
#[derive(Clone, Copy)]
pub(super) struct Dimensions {
    pub(super) b: u64,
    pub(super) h: u64,
    pub(super) hkv: u64,
    pub(super) queries: u64,
    pub(super) keys: u64,
    pub(super) d: u64,
    pub(super) causal: bool,
}

pub(super) fn dimensions(shape: &Shape) -> Dimensions {
    match *shape {
        Shape::Prefill {
            b,
            h,
            hkv,
            s,
            d,
            causal,
        } => Dimensions {
            b,
            h,
            hkv,
            queries: s,
            keys: s,
            d,
            causal,
        },
        Shape::Decode { b, h, hkv, l, d } => Dimensions {
            b,
            h,
            hkv,
            queries: 1,
            keys: l,
            d,
            causal: false,
        },
        _ => Dimensions {
            b: 0,
            h: 0,
            hkv: 1,
            queries: 0,
            keys: 0,
            d: 0,
            causal: false,
        },
    }
}

impl Dimensions {
    pub(super) fn scale(&self) -> f32 {
        1.0 / (self.d as f32).sqrt()
    }

    /// The inputs Q, K, V and the output O.
    pub(super) fn buffers(&self, dtype: DType) -> Vec<BufferSpec> {
        let size = dtype.size() as u64;
        let q = self.b * self.h * self.queries * self.d;
        let kv = self.b * self.hkv * self.keys * self.d;
        vec![
            BufferSpec::input("attn.q", dtype, q),
            BufferSpec::input("attn.k", dtype, kv),
            BufferSpec::input("attn.v", dtype, kv),
            BufferSpec::output("attn.o", q * size),
        ]
    }

    /// The shape as the builtin ops take it (`Heads`), which every attention kernel's
    /// scalar list starts with.
    pub(super) fn typed_heads(&self) -> Heads {
        Heads {
            batch: self.b as u32,
            heads: self.h as u32,
            kv_heads: self.hkv as u32,
            keys: self.keys as u32,
            head_dim: self.d as u32,
        }
    }

    /// The fused kernels' list (`attn_prefill_fused` and the vendor's take the same).
    fn fused_args(&self) -> Vec<PlanArg> {
        AttnPrefillArgs {
            q: 0,
            k: 1,
            v: 2,
            o: 3,
            heads: self.typed_heads(),
            causal: self.causal,
            scale: self.scale(),
        }
        .encode()
    }

    pub(super) fn heads(&self) -> [PlanArg; 5] {
        self.typed_heads().encode()
    }

    pub(super) fn cost(&self, dtype: DType) -> Cost {
        let (b, h, q, k, d) = (
            self.b as f64,
            self.h as f64,
            self.queries as f64,
            self.keys as f64,
            self.d as f64,
        );
        let flops = 4.0 * b * h * q * k * d;
        let elements = 2.0 * b * h * q * d + 2.0 * b * self.hkv as f64 * k * d;
        Cost {
            flops: if self.causal { flops / 2.0 } else { flops },
            bytes: elements * dtype.size() as f64,
            ..Cost::default()
        }
    }

    /// Checks sampled query rows against the f64 two-pass reference.
    pub(super) fn check(&self, dtype: DType, plan: &Plan, out: &[u8]) -> Validation {
        let (d, keys, queries) = (self.d as usize, self.keys as usize, self.queries as usize);
        let group = (self.h / self.hkv) as usize;
        let (q, k, v) = (plan.data(0), plan.data(1), plan.data(2));
        let scale = f64::from(self.scale());
        let rows = (self.b * self.h * self.queries) as usize;
        let mut checker = Checker::new();
        let (mut scores, mut weights) = (vec![0.0; keys], vec![0.0; keys]);
        for row in data::sample(rows, 128, seed("attn.sample")) {
            let (bh, i) = (row / queries, row % queries);
            let (bb, hh) = (bh / self.h as usize, bh % self.h as usize);
            let kv = (bb * self.hkv as usize + hh / group) * keys * d;
            let visible = if self.causal { i + 1 } else { keys };
            // Pass 1: scores and their magnitudes (which bound the kernels' dot errors).
            let mut score_magnitude: f64 = 0.0;
            for (j, score) in scores[..visible].iter_mut().enumerate() {
                let (mut s, mut m) = (0.0, 0.0);
                for e in 0..d {
                    let t = get(dtype, q, row * d + e) * get(dtype, k, kv + j * d + e);
                    s += t;
                    m += t.abs();
                }
                *score = s * scale;
                score_magnitude = score_magnitude.max(m * scale);
            }
            // Pass 2: softmax weights.
            let max = scores[..visible]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            for (w, s) in weights.iter_mut().zip(&scores[..visible]) {
                *w = (s - max).exp();
            }
            let sum: f64 = weights[..visible].iter().sum();
            // Tolerance: the output rounding, P possibly rounded to the input dtype (as
            // tensor-core kernels do), dot-product error in the scores, the length of the
            // P·V reduction, and f32 exp.
            let u = unit_roundoff(DType::F32);
            let relative = 4.0 * unit_roundoff(dtype)
                + 4.0 * (d as f64).sqrt() * u * score_magnitude
                + 4.0 * (visible as f64).sqrt() * u
                + 2e-6;
            for e in 0..d {
                let (mut want, mut magnitude) = (0.0, 0.0);
                for (j, w) in weights[..visible].iter().enumerate() {
                    let t = w / sum * get(dtype, v, kv + j * d + e);
                    want += t;
                    magnitude += t.abs();
                }
                let tol = 2.0 * unit_roundoff(dtype) * want.abs() + relative * magnitude;
                checker.check(get(dtype, out, row * d + e), want, tol, || {
                    format!("O[b={bb},h={hh},i={i},d={e}]")
                });
            }
        }
        checker.finish()
    }
}

pub(super) fn launch(kernel: &'static str, dtype: DType, dims: Dims, args: Vec<PlanArg>) -> Step {
    Step::Launch(Launch::new(kernel, dtype, dims, args))
}

/// A launch whose source kernels keep a row of D floats per work-item: `D_MAX` (D
/// rounded up to 16) sizes those arrays at compile time.
pub(super) fn launch_rows(
    kernel: &'static str,
    dtype: DType,
    d: u64,
    dims: Dims,
    args: Vec<PlanArg>,
) -> Step {
    Step::Launch(
        Launch::new(kernel, dtype, dims, args)
            .defines(vec![("D_MAX".into(), d.next_multiple_of(16).to_string())]),
    )
}

pub(super) fn buf(i: usize) -> PlanArg {
    PlanArg::Buffer(i)
}

pub(super) fn u32_arg(v: u64) -> PlanArg {
    PlanArg::U32(v as u32)
}

fn prefill(b: u64, h: u64, hkv: u64, s: u64, d: u64, causal: bool) -> Shape {
    Shape::Prefill {
        b,
        h,
        hkv,
        s,
        d,
        causal,
    }
}

impl Workload for Prefill {
    fn name(&self) -> &'static str {
        "attention.prefill"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["naive", "fused", "vendor"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &DType::FLOATS
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Prefill
    }

    fn bound(&self) -> Bound {
        Bound::Compute
    }

    fn shapes(&self, scale: Scale, _info: &DeviceInfo) -> Vec<Shape> {
        let both = |b, h, hkv, s, d| {
            [
                prefill(b, h, hkv, s, d, false),
                prefill(b, h, hkv, s, d, true),
            ]
        };
        match scale {
            // The last is long enough (S·(2D+1) > 65535) to catch kernels that walk every
            // key in one work-item, which lavapipe's loop cap silently truncates.
            Scale::Smoke => [
                both(1, 4, 2, 37, 16),
                both(2, 2, 1, 70, 24),
                both(1, 2, 1, 600, 64),
            ]
            .concat(),
            // Causal only: what LLM prefill runs; the unmasked form is in smoke and full.
            Scale::Quick => vec![prefill(1, 8, 2, 512, 64, true)],
            Scale::Full => [both(1, 16, 4, 2048, 128), both(1, 32, 8, 4096, 128)].concat(),
        }
    }

    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        dimensions(shape).cost(dtype)
    }

    fn plan(&self, variant: &str, dtype: DType, shape: &Shape, info: &DeviceInfo) -> Plan {
        let x = dimensions(shape);
        let mut buffers = x.buffers(dtype);
        let bh = x.b * x.h;
        let causal = PlanArg::U32(u32::from(x.causal));
        let scale = PlanArg::F32(x.scale());
        let steps = if variant == "vendor" {
            // The vendor library's fused attention, as a builtin (cuDNN, aclnn).
            vec![launch(
                "attn_prefill_vendor",
                dtype,
                Dims::linear(1, 1),
                x.fused_args(),
            )]
        } else if variant == "naive" {
            buffers.push(BufferSpec::output("attn.scores", bh * x.keys * x.keys * 4));
            vec![
                launch(
                    "attn_prefill_scores",
                    dtype,
                    Dims {
                        groups: [groups(x.keys, 16), groups(x.keys, 16), bh as u32],
                        threads: [16, 16, 1],
                    },
                    [&[buf(0), buf(1), buf(4)][..], &x.heads(), &[causal, scale]].concat(),
                ),
                launch(
                    "softmax_rows",
                    DType::F32,
                    Dims::linear(((bh * x.keys) as u32).min(MAX_GROUPS), 256),
                    vec![buf(4), u32_arg(bh * x.keys), u32_arg(x.keys)],
                ),
                launch(
                    "attn_prefill_pv",
                    dtype,
                    Dims {
                        groups: [groups(x.d, 64), x.keys as u32, bh as u32],
                        threads: [64, 1, 1],
                    },
                    [&[buf(4), buf(2), buf(3)][..], &x.heads()].concat(),
                ),
            ]
        } else {
            vec![launch_rows(
                "attn_prefill_fused",
                dtype,
                x.d,
                // Group g takes query rows [g·R, (g + 1)·R). GPUs: 64 rows per group of 128
                // (4 warps × 16 rows, the tensor-core shape); CPU drivers: one row per
                // group of 64, for parallelism.
                if launch_class(info) == LaunchClass::Wide {
                    Dims {
                        groups: [groups(x.queries, 64), bh as u32, 1],
                        threads: [128, 1, 1],
                    }
                } else {
                    Dims {
                        groups: [(x.queries as u32).min(MAX_GROUPS), bh as u32, 1],
                        threads: [64, 1, 1],
                    }
                },
                x.fused_args(),
            )]
        };
        Plan {
            buffers,
            steps,
            output: Output::Buffer(3),
        }
    }

    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        dimensions(shape).check(dtype, plan, out)
    }
}
