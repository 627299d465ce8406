//! gemm.wq: C = A·dequant(W) with weight-only quantisation, as decode serves it. W is K×N,
//! int8 or int4, symmetric: element (k, n) of the flattened index k·N + n is a signed byte,
//! or a nibble (value − 8; the even index in the low nibble), times the scale of its
//! column for its group of `group` rows of K. Scales and activations are in the case's
//! dtype (f16 scales, as Marlin and llama.cpp store them, for f16 and bf16). A, C as
//! GEMM's. At small M this is bound by W's bytes: the figure that matters is its time
//! against the same-shape GEMM of the same dtype, whose ideal ratio is the byte ratio.

use halbench_hal::{DType, DeviceInfo, Dims};

use super::attention::{buf, u32_arg};
use crate::check::{reduction_tolerance, Checker, Validation};
use crate::data::{self, get, seed, Rng};
use crate::plan::{groups, BufferSpec, Launch, Output, Plan, Step};
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

pub(crate) struct WeightQuantGemm;

/// `bits` first: a spec is this family's when it names a weight width.
const KEYS: &[&str] = &["bits", "m", "n", "k", "group"];

/// Rows of A per work-item (the accumulators each keeps); M above it takes more rows of
/// work-groups.
const ROWS: u64 = 16;

fn wq(bits: u64, m: u64, n: u64, k: u64, group: u64) -> Shape {
    Shape::Keyed {
        keys: KEYS,
        values: [bits, m, n, k, group, 0, 0, 0],
    }
}

struct Sizes {
    bits: u64,
    m: u64,
    n: u64,
    k: u64,
    group: u64,
}

fn sizes(shape: &Shape) -> Sizes {
    let v = |k| shape.get(k);
    Sizes {
        bits: v("bits"),
        m: v("m"),
        n: v("n"),
        k: v("k"),
        group: v("group").max(1),
    }
}

impl Sizes {
    fn groups(&self) -> u64 {
        self.k.div_ceil(self.group)
    }

    /// W's bytes, padded to whole 32-bit words (GLSL reads it as words).
    fn weight_bytes(&self) -> u64 {
        (self.k * self.n * self.bits)
            .div_ceil(8)
            .next_multiple_of(4)
    }

    /// The quantised value of W at (k, n).
    fn weight(&self, w: &[u8], k: usize, n: usize) -> f64 {
        let idx = k * self.n as usize + n;
        if self.bits == 8 {
            f64::from(w[idx] as i8)
        } else {
            let byte = w[idx / 2];
            let nibble = if idx % 2 == 1 { byte >> 4 } else { byte & 15 };
            f64::from(nibble) - 8.0
        }
    }
}

impl Workload for WeightQuantGemm {
    /// Cold: a decode step streams its quantised weights after the other layers evicted
    /// them.
    fn default_cache(&self, _shape: &Shape) -> crate::CacheState {
        crate::CacheState::Cold
    }

    fn name(&self) -> &'static str {
        "gemm.wq"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["default"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &DType::FLOATS
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Keyed(KEYS)
    }

    fn bound(&self) -> Bound {
        Bound::Memory
    }

    fn shapes(&self, scale: Scale, _info: &DeviceInfo) -> Vec<Shape> {
        match scale {
            // Odd N and K, a group that does not divide K, M past one block of rows.
            Scale::Smoke => vec![
                wq(4, 1, 70, 300, 128),
                wq(8, 5, 33, 100, 32),
                wq(4, 37, 45, 64, 16),
                wq(8, 1, 64, 256, 128),
            ],
            // One token against the quick GEMM's 4096² weight, so each has its dense twin
            // in the run; batches of 16 and 64 are in full.
            Scale::Quick => vec![wq(4, 1, 4096, 4096, 128), wq(8, 1, 4096, 4096, 128)],
            Scale::Full => [4, 8]
                .into_iter()
                .flat_map(|bits| [1, 16, 64].map(|m| wq(bits, m, 8192, 8192, 128)))
                .collect(),
        }
    }

    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        let x = sizes(shape);
        let size = dtype.size() as f64;
        let (m, n, k) = (x.m as f64, x.n as f64, x.k as f64);
        Cost {
            flops: 2.0 * m * n * k,
            bytes: (m * k + m * n + x.groups() as f64 * n) * size + (k * n * x.bits as f64 / 8.0),
            ..Cost::default()
        }
    }

    fn plan(&self, _variant: &str, dtype: DType, shape: &Shape, _info: &DeviceInfo) -> Plan {
        let x = sizes(shape);
        // Generated on first use, as random inputs are: weights too big for the device
        // are refused before they are made.
        let weights = BufferSpec::generated("gemm.wq.w", DType::F32, x.weight_bytes(), {
            let n = x.weight_bytes();
            move || {
                let mut rng = Rng::new(seed("gemm.wq.w"));
                (0..n).map(|_| rng.next_u64() as u8).collect()
            }
        });
        // Scales near 1/64, so a column's sum stays near the activations' size.
        let n_scales = x.groups() * x.n;
        let scales = BufferSpec::generated(
            "gemm.wq.s",
            dtype,
            n_scales * dtype.size() as u64,
            move || {
                let mut rng = Rng::new(seed("gemm.wq.s"));
                let mut scales = vec![0u8; n_scales as usize * dtype.size()];
                for e in scales.chunks_exact_mut(dtype.size()) {
                    dtype.encode((1.5 + rng.value()) / 96.0, e);
                }
                scales
            },
        );
        let rows = x.m.min(ROWS).next_power_of_two();
        Plan {
            buffers: vec![
                BufferSpec::input("gemm.a", dtype, x.m * x.k),
                weights,
                scales,
                BufferSpec::output("gemm.c", x.m * x.n * dtype.size() as u64),
            ],
            steps: vec![Step::Launch(
                Launch::new(
                    "gemm_wq",
                    dtype,
                    Dims {
                        groups: [groups(x.n, 64), groups(x.m, rows), 1],
                        threads: [64, 1, 1],
                    },
                    [
                        &[buf(0), buf(1), buf(2), buf(3)][..],
                        &[x.m, x.n, x.k, x.group].map(u32_arg),
                    ]
                    .concat(),
                )
                .defines(vec![
                    ("WQ_BITS".into(), x.bits.to_string()),
                    ("GEMM_ROWS".into(), rows.to_string()),
                ]),
            )],
            output: Output::Buffer(3),
        }
    }

    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let x = sizes(shape);
        let (n, k, g) = (x.n as usize, x.k as usize, x.group as usize);
        let (a, w, s) = (plan.data(0), plan.data(1), plan.data(2));
        let mut checker = Checker::new();
        for idx in data::sample(out.len() / dtype.size(), 4096, seed("gemm.sample")) {
            let (i, j) = (idx / n, idx % n);
            let (mut want, mut magnitude) = (0.0, 0.0);
            for p in 0..k {
                let scale = get(dtype, s, (p / g) * n + j);
                let t = get(dtype, a, i * k + p) * x.weight(w, p, j) * scale;
                want += t;
                magnitude += t.abs();
            }
            let tol = reduction_tolerance(dtype, want, magnitude, k);
            checker.check(get(dtype, out, idx), want, tol, || format!("C[{i},{j}]"));
        }
        checker.finish()
    }
}
