//! gemm.grouped: the expert GEMM of a mixture-of-experts layer. `experts` weights
//! `W[e]` (K×N each, `[E, K, N]`), `t` tokens each routed to `top` distinct experts; after
//! the dispatch, A holds each expert's rows together (`[Σ Mₑ, K]`, expert 0's first) and
//! C = the same rows times their expert's weight. Routing, seeded (`seed`, default 0):
//! uniform, or `zipf=S` (expert e drawn with weight 1/(e+1)^(S/100)), or `hot=P` (P% of
//! tokens route to expert 0, the rest never do). Experts that get no token are skipped.
//!
//! Variants: `loop` launches the kernel once per expert with rows, what a naive port does;
//! `grouped` launches it once over every expert's rows, through a table of row tiles
//! (expert, first row, rows); `vendor` is the vendor library's grouped GEMM (aclnn's
//! GroupedMatmul), given the rows per expert. FLOPs 2·ΣMₑ·N·K; bytes: the weights of the experts that got
//! tokens, A and C once, and the tile table.

use halbench_hal::ops::{BuiltinArgs, GemmGroupedArgs};
use halbench_hal::{DType, DeviceInfo, Dims};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::attention::{buf, u32_arg};
use super::gemm::{fp8_kernel_scale, ProductScales};
use crate::check::{reduction_tolerance, Checker, Validation};
use crate::data::{self, get, seed, Rng};
use crate::plan::{groups, BufferSpec, Launch, Output, Plan, PlanArg, Step};
use crate::workloads::MAX_GROUPS;
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

pub(crate) struct Grouped;

/// `experts` first: a spec is this family's when it names an expert count.
const KEYS: &[&str] = &["experts", "t", "top", "n", "k", "zipf", "hot", "seed"];

/// Most rows of C one work-item keeps (a tile's height).
const ROWS: u64 = 16;

/// How the routing spread a case's rows over the experts: reported with its result,
/// since balanced routing is the best case at large batch and the worst at small.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExpertLoad {
    pub experts: u64,
    /// Experts that received at least one token.
    pub active: u64,
    pub max_rows: u64,
    /// Rows per expert, over all experts.
    pub mean_rows: f64,
}

impl ExpertLoad {
    /// The largest expert's rows over the mean: 1 when balanced.
    pub fn imbalance(&self) -> f64 {
        self.max_rows as f64 / self.mean_rows.max(f64::MIN_POSITIVE)
    }
}

fn grouped(experts: u64, t: u64, top: u64, n: u64, k: u64, route: Route) -> Shape {
    let (zipf, hot) = match route {
        Route::Uniform => (0, 0),
        Route::Zipf(s) => (s, 0),
        Route::Hot(p) => (0, p),
    };
    Shape::Keyed {
        keys: KEYS,
        values: [experts, t, top, n, k, zipf, hot, 0],
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Route {
    Uniform,
    /// Skew in hundredths.
    Zipf(u64),
    /// Percent of tokens on expert 0.
    Hot(u64),
}

struct Sizes {
    experts: u64,
    n: u64,
    k: u64,
    /// Rows per expert.
    rows: Vec<u64>,
}

/// The most experts a shape may have, and the most routing draws (tokens × top × experts):
/// routing is drawn on the host with the plan, so these bound its memory and time (about
/// a second) far past any model's (256 experts, 8 of them a token, 16K tokens: 2^25).
const MAX_EXPERTS: u64 = 1 << 16;
const MAX_ROUTING: u64 = 1 << 30;

/// Each token's `top` distinct experts, drawn as the shape's routing says.
fn route(shape: &Shape) -> Vec<u64> {
    let v = |k| shape.get(k);
    let (e, t, top) = (v("experts") as usize, v("t"), v("top") as usize);
    let route = match (v("zipf"), v("hot")) {
        (0, 0) => Route::Uniform,
        (s, 0) => Route::Zipf(s),
        (_, p) => Route::Hot(p),
    };
    let mut rng = Rng::new(seed("gemm.grouped.routing") ^ v("seed"));
    let weights: Vec<f64> = match route {
        Route::Zipf(s) => (0..e)
            .map(|i| (i as f64 + 1.0).powf(-(s as f64) / 100.0))
            .collect(),
        _ => vec![1.0; e],
    };
    let mut rows = vec![0u64; e];
    for _ in 0..t {
        let mut w = weights.clone();
        let mut picks = top;
        if let Route::Hot(p) = route {
            // The hot expert is first for p% of tokens, never for the rest.
            if rng.below(100) < p {
                rows[0] += 1;
                picks -= 1;
            }
            w[0] = 0.0;
        }
        for _ in 0..picks {
            // A weighted draw without replacement: the chosen expert's weight goes to 0.
            let total: f64 = w.iter().sum();
            let mut x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let pick = w
                .iter()
                .position(|&wi| {
                    x -= wi;
                    x < 0.0 && wi > 0.0
                })
                .unwrap_or_else(|| w.iter().rposition(|&wi| wi > 0.0).unwrap_or(0));
            rows[pick] += 1;
            w[pick] = 0.0;
        }
    }
    rows
}

fn sizes(shape: &Shape) -> Sizes {
    Sizes {
        experts: shape.get("experts"),
        n: shape.get("n"),
        k: shape.get("k"),
        rows: route(shape),
    }
}

impl Sizes {
    fn total_rows(&self) -> u64 {
        self.rows.iter().sum()
    }

    /// The first row of each expert, and one past the last.
    fn offsets(&self) -> Vec<u64> {
        let mut at = 0;
        let mut out = vec![0];
        for r in &self.rows {
            at += r;
            out.push(at);
        }
        out
    }

    fn tile_rows(&self) -> u64 {
        self.rows
            .iter()
            .copied()
            .max()
            .unwrap_or(1)
            .clamp(1, ROWS)
            .next_power_of_two()
    }

    /// Row tiles (expert, first row, rows), expert by expert; and where each expert's
    /// tiles start, and end.
    fn tiles(&self) -> (Vec<[u32; 3]>, Vec<usize>) {
        let height = self.tile_rows();
        let offsets = self.offsets();
        let (mut tiles, mut starts) = (Vec::new(), vec![0]);
        for (e, &m) in self.rows.iter().enumerate() {
            for r0 in (0..m).step_by(height as usize) {
                let rows = height.min(m - r0);
                tiles.push([e as u32, (offsets[e] + r0) as u32, rows as u32]);
            }
            starts.push(tiles.len());
        }
        (tiles, starts)
    }

    fn load(&self) -> ExpertLoad {
        ExpertLoad {
            experts: self.experts,
            active: self.rows.iter().filter(|&&r| r > 0).count() as u64,
            max_rows: self.rows.iter().copied().max().unwrap_or(0),
            mean_rows: self.total_rows() as f64 / self.experts.max(1) as f64,
        }
    }
}

impl Workload for Grouped {
    fn name(&self) -> &'static str {
        "gemm.grouped"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["loop", "grouped", "vendor"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &DType::ALL
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Keyed(KEYS)
    }

    fn bound(&self) -> Bound {
        Bound::Memory
    }

    fn check_shape(&self, shape: &Shape) -> Result<(), String> {
        let (e, t, top) = (shape.get("experts"), shape.get("t"), shape.get("top"));
        let draws = t.saturating_mul(top).saturating_mul(e);
        if e > MAX_EXPERTS {
            Err(format!("experts={e} exceeds {MAX_EXPERTS}"))
        } else if draws > MAX_ROUTING {
            Err(format!(
                "routing t × top × experts = {draws} draws exceeds {MAX_ROUTING} (the host draws it with the plan)"
            ))
        } else {
            Ok(())
        }
    }

    fn shapes(&self, scale: Scale, _info: &DeviceInfo) -> Vec<Shape> {
        use Route::*;
        match scale {
            // Every routing; odd N and K; most experts without a token (3 tokens over 64
            // experts); an expert past one tile of rows (hot).
            Scale::Smoke => vec![
                grouped(8, 5, 2, 33, 47, Uniform),
                grouped(64, 3, 2, 40, 24, Uniform),
                grouped(16, 9, 4, 29, 31, Zipf(120)),
                grouped(6, 40, 2, 17, 20, Hot(90)),
            ],
            // DeepSeek-like (many small experts, top-8) and Mixtral-like (8 large experts,
            // top-2), at a decode batch of 32 tokens.
            Scale::Quick => vec![
                grouped(64, 32, 8, 512, 1024, Uniform),
                grouped(8, 32, 2, 2048, 1024, Uniform),
            ],
            Scale::Full => vec![
                grouped(64, 32, 8, 512, 1024, Uniform),
                grouped(64, 32, 8, 512, 1024, Zipf(120)),
                grouped(8, 32, 2, 2048, 1024, Uniform),
                grouped(8, 32, 2, 2048, 1024, Hot(90)),
                grouped(256, 256, 8, 2048, 2048, Uniform),
            ],
        }
    }

    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        let x = sizes(shape);
        let size = dtype.size() as f64;
        let (n, k, m) = (x.n as f64, x.k as f64, x.total_rows() as f64);
        let active = x.load().active as f64;
        Cost {
            flops: 2.0 * m * n * k,
            bytes: (active * k * n + m * k + m * n) * size + x.tiles().0.len() as f64 * 12.0,
            ..Cost::default()
        }
    }

    fn plan(&self, variant: &str, dtype: DType, shape: &Shape, _info: &DeviceInfo) -> Plan {
        let x = sizes(shape);
        let (tiles, starts) = x.tiles();
        let table: Vec<u8> = tiles
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let m = x.total_rows();
        let launch = |first: usize, end: usize| {
            let dims = Dims {
                groups: [groups(x.n, 64), ((end - first) as u32).min(MAX_GROUPS), 1],
                threads: [64, 1, 1],
            };
            let args = [
                &[buf(0), buf(1), buf(2), buf(3)][..],
                &[x.n, x.k, first as u64, end as u64].map(u32_arg),
                // fp8: the per-tensor scales folded into one, as gemm's.
                fp8_kernel_scale(dtype, x.k).map(PlanArg::F32).as_slice(),
            ]
            .concat();
            Step::Launch(
                Launch::new("gemm_grouped", dtype, dims, args)
                    .defines(vec![("GEMM_ROWS".into(), x.tile_rows().to_string())]),
            )
        };
        if variant == "vendor" {
            // The vendor library's grouped GEMM, as a builtin (aclnn's GroupedMatmul): it
            // takes the rows per expert rather than tiles.
            let rows: Vec<u8> = x
                .rows
                .iter()
                .flat_map(|&r| (r as u32).to_le_bytes())
                .collect();
            let args = GemmGroupedArgs {
                a: 0,
                w: 1,
                rows: 2,
                c: 3,
                experts: x.experts as u32,
                n: x.n as u32,
                k: x.k as u32,
            };
            return Plan {
                buffers: vec![
                    BufferSpec::input("gemm.a", dtype, m.max(1) * x.k),
                    BufferSpec::input("gemm.grouped.w", dtype, x.experts * x.k * x.n),
                    BufferSpec::with_data("gemm.grouped.rows", DType::F32, rows),
                    BufferSpec::output("gemm.c", m.max(1) * x.n * dtype.size() as u64),
                ],
                steps: vec![Step::Launch(Launch::new(
                    "gemm_grouped_vendor",
                    dtype,
                    Dims::linear(1, 1),
                    args.encode(),
                ))],
                output: Output::Buffer(3),
            };
        }
        let steps = if variant == "loop" {
            starts
                .windows(2)
                .filter(|w| w[1] > w[0])
                .map(|w| launch(w[0], w[1]))
                .collect()
        } else {
            vec![launch(0, tiles.len())]
        };
        Plan {
            buffers: vec![
                BufferSpec::input("gemm.a", dtype, m.max(1) * x.k),
                BufferSpec::input("gemm.grouped.w", dtype, x.experts * x.k * x.n),
                BufferSpec::with_data("gemm.grouped.tiles", DType::F32, table),
                BufferSpec::output("gemm.c", m.max(1) * x.n * dtype.size() as u64),
            ],
            steps,
            output: Output::Buffer(3),
        }
    }

    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let x = sizes(shape);
        let (n, k) = (x.n as usize, x.k as usize);
        let offsets = x.offsets();
        let (a, w) = (plan.data(0), plan.data(1));
        // Codes times their tensor's scale (1 but for fp8), as gemm's check.
        let ProductScales {
            inputs: aw,
            output: sc,
            underflow,
        } = ProductScales::new(dtype, k as u64);
        let mut checker = Checker::new();
        let total = x.total_rows() as usize * n;
        for idx in data::sample(total, 4096, seed("gemm.sample")) {
            let (i, j) = (idx / n, idx % n);
            let e = offsets.partition_point(|&o| o <= i as u64) - 1;
            let (mut want, mut magnitude) = (0.0, 0.0);
            for p in 0..k {
                let t = get(dtype, a, i * k + p) * get(dtype, w, (e * k + p) * n + j) * aw;
                want += t;
                magnitude += t.abs();
            }
            let tol = reduction_tolerance(dtype, want, magnitude, k) + underflow;
            checker.check(get(dtype, out, idx) * sc, want, tol, || {
                format!("C[{i},{j}] (expert {e})")
            });
        }
        checker.finish()
    }

    fn expert_load(&self, shape: &Shape) -> Option<ExpertLoad> {
        Some(sizes(shape).load())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_takes_top_distinct_experts_and_the_routings_differ() {
        let rows = |r| route(&grouped(16, 400, 4, 8, 8, r));
        for r in [Route::Uniform, Route::Zipf(120), Route::Hot(90)] {
            let rows = rows(r);
            assert_eq!(rows.iter().sum::<u64>(), 1600);
            assert!(rows.iter().all(|&m| m <= 400), "{rows:?}");
        }
        let (uniform, zipf, hot) = (
            rows(Route::Uniform),
            rows(Route::Zipf(120)),
            rows(Route::Hot(90)),
        );
        assert!(
            uniform.iter().all(|&m| (50..150).contains(&m)),
            "{uniform:?}"
        );
        assert!(zipf[0] > 3 * zipf[15], "{zipf:?}");
        assert!((330..390).contains(&hot[0]), "{hot:?}");
    }

    #[test]
    fn tiles_cover_every_row_once_and_skip_empty_experts() {
        let x = sizes(&grouped(64, 3, 2, 40, 24, Route::Uniform));
        assert!(x.load().active <= 6);
        let (tiles, starts) = x.tiles();
        assert_eq!(starts.len(), 65);
        let covered: u32 = tiles.iter().map(|t| t[2]).sum();
        assert_eq!(u64::from(covered), x.total_rows());
        for w in tiles.windows(2) {
            assert_eq!(w[0][1] + w[0][2], w[1][1], "tiles are contiguous rows");
        }
    }
}
