//! C = A·B, row-major, f32 accumulate. Shapes cover squares and the two LLM regimes:
//! decode (M = 1…16 tokens against a weight matrix) and prefill (M = many tokens).
//!
//! fp8 (e4m3, e5m2) runs every variant with A, B and C stored as 8-bit codes and one
//! per-tensor scale each: the inputs' from [`data::input_scale`], C's from
//! [`fp8_output_scale`]; the kernels take them folded into one scalar.

use halbench_hal::ops::{BuiltinArgs, GemmArgs};
use halbench_hal::{DType, DeviceInfo, Dims};

use crate::check::{reduction_tolerance, Checker, Validation};
use crate::data::{self, get, seed};
use crate::plan::{groups, BufferSpec, Launch, Output, Plan, Step};
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

pub(crate) struct Gemm;

fn mnk(shape: &Shape) -> (u64, u64, u64) {
    match *shape {
        Shape::Gemm { m, n, k } => (m, n, k),
        _ => (0, 0, 0),
    }
}

fn g(m: u64, n: u64, k: u64) -> Shape {
    Shape::Gemm { m, n, k }
}

impl Workload for Gemm {
    /// Cold at decode shapes (M ≤ 16: a step streams its weights, which the other
    /// layers' evicted since the last step); warm otherwise, where a compute-bound GEMM
    /// reuses each tile from cache many times and the first touch is noise.
    fn default_cache(&self, shape: &Shape) -> crate::CacheState {
        match shape {
            Shape::Gemm { m, .. } if *m <= SMALL_M => crate::CacheState::Cold,
            _ => crate::CacheState::Warm,
        }
    }

    fn name(&self) -> &'static str {
        "gemm"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["naive", "tiled", "vendor"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &DType::ALL
    }

    /// fp8 is native only where the tiled variant's prefill-sized path reaches the matrix
    /// units (`mma.sync` e4m3/e5m2 on CUDA sm_89+); decode (`gemm_small_m`) and `naive`
    /// decode to f32 everywhere.
    fn emulated(
        &self,
        variant: &str,
        dtype: DType,
        shape: &Shape,
        info: &DeviceInfo,
    ) -> Option<String> {
        let native = variant == "tiled" && mnk(shape).0 > SMALL_M && info.features.fp8_matrix;
        (dtype.is_fp8() && !native).then(|| crate::fp8_emulated(dtype, info))
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Gemm
    }

    fn bound(&self) -> Bound {
        Bound::Compute
    }

    fn shapes(&self, scale: Scale, _info: &DeviceInfo) -> Vec<Shape> {
        match scale {
            // Odd sizes: no dimension a multiple of any tile.
            // The small-M path at 1, 5 (rows past M padded) and 16 rows; N not a multiple
            // of its 16 or 64 columns, K not of its 4 slices.
            Scale::Smoke => vec![
                g(37, 29, 45),
                g(1, 70, 33),
                g(5, 33, 47),
                g(16, 100, 61),
                g(64, 64, 64),
            ],
            // One compute-bound square and the two decode regimes (one token, a batch of
            // 16) against a 4096² weight. The prefill-shaped rectangle is in `full`
            // (2048×8192×2048): at quick size it told what the square tells, at twice the
            // time.
            Scale::Quick => vec![g(1024, 1024, 1024), g(1, 4096, 4096), g(16, 4096, 4096)],
            Scale::Full => vec![
                g(1024, 1024, 1024),
                g(2048, 2048, 2048),
                g(4096, 4096, 4096),
                g(1, 8192, 8192),
                g(16, 8192, 8192),
                g(2048, 8192, 2048),
            ],
        }
    }

    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        let (m, n, k) = mnk(shape);
        let (m, n, k) = (m as f64, n as f64, k as f64);
        Cost {
            flops: 2.0 * m * n * k,
            bytes: (m * k + k * n + m * n) * dtype.size() as f64,
            ..Cost::default()
        }
    }

    fn plan(&self, variant: &str, dtype: DType, shape: &Shape, info: &DeviceInfo) -> Plan {
        let (m, n, k) = mnk(shape);
        if variant == "tiled" && m <= SMALL_M {
            return small_m_plan(dtype, (m, n, k), info);
        }
        let cpu_device = crate::workloads::cpu_shaped(info);
        let (kernel, dims) = match variant {
            // One thread per output element.
            "naive" => (
                "gemm_naive",
                Dims {
                    groups: [groups(n, 16), groups(m, 16), 1],
                    threads: [16, 16, 1],
                },
            ),
            // On a CPU device, one work-item per group computing an 8×16 register tile
            // (GEMM_REGISTER_TILE): a GPU-shaped group would leave the vector units idle.
            "tiled" if cpu_device => (
                "gemm_tiled",
                Dims {
                    groups: [groups(n, 16), groups(m, 8), 1],
                    threads: [1, 1, 1],
                },
            ),
            // One 64×64 output tile per group of 256 threads.
            "tiled" => (
                "gemm_tiled",
                Dims {
                    groups: [groups(n, 64), groups(m, 64), 1],
                    threads: [256, 1, 1],
                },
            ),
            // A vendor library picks its own launch.
            _ => ("gemm_vendor", Dims::linear(1, 1)),
        };
        let defines = if variant == "tiled" && cpu_device {
            vec![("GEMM_REGISTER_TILE".into(), "1".into())]
        } else {
            vec![]
        };
        gemm_plan(kernel, dtype, (m, n, k), dims, defines)
    }

    /// The quick suite runs `naive` at the decode shapes only: at 1024³ it takes a third
    /// of the suite's time on a CPU device to say that a naive GEMM is slow (`full` and
    /// any `--shape` still run it there).
    fn at_scale(&self, variant: &str, shape: &Shape, scale: Scale) -> bool {
        !(scale == Scale::Quick && variant == "naive" && mnk(shape).0 > SMALL_M)
    }

    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let (_, n, k) = mnk(shape);
        let (n, k) = (n as usize, k as usize);
        let (a, b) = (plan.data(0), plan.data(1));
        let ProductScales {
            inputs: ab,
            output: sc,
            underflow,
        } = ProductScales::new(dtype, k as u64);
        let mut checker = Checker::new();
        for idx in data::sample(out.len() / dtype.size(), 4096, seed("gemm.sample")) {
            let (i, j) = (idx / n, idx % n);
            let (mut want, mut magnitude) = (0.0, 0.0);
            for p in 0..k {
                let t = get(dtype, a, i * k + p) * get(dtype, b, p * n + j) * ab;
                want += t;
                magnitude += t.abs();
            }
            let tol = reduction_tolerance(dtype, want, magnitude, k) + underflow;
            checker.check(get(dtype, out, idx) * sc, want, tol, || {
                format!("C[{i},{j}]")
            });
        }
        checker.finish()
    }
}

/// The largest M the tiled variant runs through `gemm_small_m`: decode batches.
const SMALL_M: u64 = 16;

/// C's per-tensor scale for fp8 (1 otherwise): a power of two that maps 4·sqrt(K), twelve
/// standard deviations of a sum of K products of halbench's inputs (each of variance 1/9),
/// to at most the type's largest value, so no output saturates and typical ones sit in
/// the normal range.
pub(crate) fn fp8_output_scale(dtype: DType, k: u64) -> f64 {
    if !dtype.is_fp8() {
        return 1.0;
    }
    let bound = 4.0 * (k.max(1) as f64).sqrt();
    f64::powi(2.0, (bound / dtype.max_finite()).log2().ceil() as i32)
}

/// How a GEMM's check reads its codes (the scales are 1 but for fp8): a product of two
/// input codes times `inputs` is the product of their values; an output code times
/// `output` is its value; below the type's smallest subnormal a rounding's error is
/// absolute, up to `underflow`.
pub(crate) struct ProductScales {
    pub inputs: f64,
    pub output: f64,
    pub underflow: f64,
}

impl ProductScales {
    pub(crate) fn new(dtype: DType, k: u64) -> Self {
        let output = fp8_output_scale(dtype, k);
        ProductScales {
            inputs: data::input_scale(dtype).powi(2),
            output,
            underflow: 0.5 * dtype.min_positive() * output,
        }
    }
}

/// The one scalar an fp8 GEMM kernel multiplies its f32 sums by before rounding: sa·sb/sc.
pub(crate) fn fp8_kernel_scale(dtype: DType, k: u64) -> Option<f32> {
    dtype
        .is_fp8()
        .then(|| (data::input_scale(dtype).powi(2) / fp8_output_scale(dtype, k)) as f32)
}

/// The decode path: one work-item per column of C holding all of its (≤ 16) rows, so the
/// time tracks B's bytes instead of a 64-row tile's padding. The launch shape by device:
/// PoCL-like devices get 16 columns per work-item as vectors, lavapipe-like ones a
/// subgroup-friendly 64-wide group, GPUs and NPUs 64 columns × 4 slices of K.
fn small_m_plan(dtype: DType, (m, n, k): (u64, u64, u64), info: &DeviceInfo) -> Plan {
    use crate::workloads::LaunchClass;
    let rows = m.next_power_of_two().to_string();
    let (dims, mut defines) = match crate::workloads::launch_class(info) {
        LaunchClass::Sweep => (
            Dims {
                groups: [groups(n, 16), 1, 1],
                threads: [1, 1, 1],
            },
            vec![("GEMM_COLUMNS16".to_string(), "1".to_string())],
        ),
        LaunchClass::Lanes => (
            Dims {
                groups: [groups(n, 64), 1, 1],
                threads: [64, 1, 1],
            },
            vec![("GEMM_KSPLIT".to_string(), "1".to_string())],
        ),
        LaunchClass::Wide => (
            Dims {
                groups: [groups(n, 64), 1, 1],
                threads: [64, 4, 1],
            },
            vec![("GEMM_KSPLIT".to_string(), "4".to_string())],
        ),
    };
    defines.push(("GEMM_ROWS".into(), rows));
    gemm_plan("gemm_small_m", dtype, (m, n, k), dims, defines)
}

/// A, B in; C out; one launch of `kernel` with the kernel ABI's gemm arguments.
fn gemm_plan(
    kernel: &'static str,
    dtype: DType,
    (m, n, k): (u64, u64, u64),
    dims: Dims,
    defines: Vec<(String, String)>,
) -> Plan {
    Plan {
        buffers: vec![
            BufferSpec::input("gemm.a", dtype, m * k),
            BufferSpec::input("gemm.b", dtype, k * n),
            BufferSpec::output("gemm.c", m * n * dtype.size() as u64),
        ],
        steps: vec![Step::Launch(
            Launch::new(
                kernel,
                dtype,
                dims,
                // Every variant takes the builtin's list (the kernel ABI's gemm signature).
                GemmArgs {
                    a: 0,
                    b: 1,
                    c: 2,
                    m: m as u32,
                    n: n as u32,
                    k: k as u32,
                    scale: fp8_kernel_scale(dtype, k),
                }
                .encode(),
            )
            .defines(defines)
            // C is N wide (x) and M tall (y).
            .extent([n, m, 1]),
        )],
        output: Output::Buffer(2),
    }
}
