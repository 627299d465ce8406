//! attention.paged: decode attention over a paged KV cache, as vLLM, FlashInfer and
//! SGLang serve it. The cache lives in pages of `page` keys. Sequence b's key t is in page
//! `table[b][t / page]`, slot `t % page`; a page holds those slots for every KV head:
//! `K[page][kv head][slot][d]`. Sequences have ragged lengths: the first has `l` keys, the
//! others a seeded uniform draw in `lmin..=l` (`lmin=l`: all equal). The pages are a
//! seeded shuffle of the pool, so a kernel that assumes contiguity fails validation.
//!
//! Bytes counted: q, o, and the K and V rows actually read (Σ lengths), plus the table
//! entries and lengths the kernels read. The dense `attention.decode` at the same total
//! KV bytes is the comparison that says what paging costs.

use halbench_hal::ops::{AttnPagedArgs, BuiltinArgs, Heads};
use halbench_hal::{DType, DeviceInfo, Dims};

use super::attention::{buf, launch, u32_arg};
use crate::check::{unit_roundoff, Checker, Validation};
use crate::data::{self, get, seed, Rng};
use crate::plan::{groups, BufferSpec, Launch, Output, Plan, PlanArg, Step};
use crate::workloads::MAX_GROUPS;
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

pub(crate) struct Paged;

/// `page` first: a spec is this family's when it names a page size.
const KEYS: &[&str] = &["page", "b", "h", "hkv", "l", "lmin", "d"];

fn paged(page: u64, b: u64, h: u64, hkv: u64, (lmin, l): (u64, u64), d: u64) -> Shape {
    Shape::Keyed {
        keys: KEYS,
        values: [page, b, h, hkv, l, lmin, d, 0],
    }
}

/// Everything the plan, cost and reference need, derived from the shape alone (any shape
/// with this family's keys: attention.kv8 pages its cache the same way).
pub(super) struct Layout {
    pub(super) page: u64,
    pub(super) b: u64,
    pub(super) h: u64,
    pub(super) hkv: u64,
    /// The longest sequence: the scores' row length.
    pub(super) l: u64,
    pub(super) d: u64,
    pub(super) lens: Vec<u64>,
    /// Table columns: pages of the longest sequence.
    pub(super) max_pages: u64,
    /// The pool: every sequence's pages.
    pub(super) pages: u64,
    /// `b × max_pages` page indices; unused entries are 0 (never read).
    pub(super) table: Vec<u32>,
}

/// The most block-table entries (b × ⌈l/page⌉) a shape may have: the table and the page
/// pool are built on the host with the plan, so this bounds them (256 MiB each) far past
/// any serving batch (256 sequences of 128K keys in pages of 16 are 2M entries).
const MAX_TABLE_ENTRIES: u64 = 1 << 26;

/// Refuses paged shapes whose block table the host should not build (see
/// [`MAX_TABLE_ENTRIES`]); both paged families share it.
pub(super) fn check_table(shape: &Shape) -> Result<(), String> {
    let (page, b, l) = (shape.get("page").max(1), shape.get("b"), shape.get("l"));
    match b.saturating_mul(l.div_ceil(page)) {
        n if n > MAX_TABLE_ENTRIES => Err(format!(
            "its block table (b × ⌈l/page⌉ = {n} entries) exceeds {MAX_TABLE_ENTRIES}: fewer or longer pages, or fewer sequences"
        )),
        _ => Ok(()),
    }
}

pub(super) fn layout(shape: &Shape) -> Layout {
    let v = |k| shape.get(k);
    let (page, b, l) = (v("page").max(1), v("b"), v("l"));
    let lmin = v("lmin").clamp(1, l.max(1));
    let mut rng = Rng::new(seed("attn.paged.lens"));
    let lens: Vec<u64> = (0..b)
        .map(|i| {
            if i == 0 {
                l
            } else {
                lmin + rng.below(l - lmin + 1)
            }
        })
        .collect();
    let max_pages = l.div_ceil(page);
    let pages: u64 = lens.iter().map(|n| n.div_ceil(page)).sum();
    // A seeded Fisher–Yates shuffle of the pool, dealt to the sequences in order.
    let mut pool: Vec<u32> = (0..pages as u32).collect();
    let mut rng = Rng::new(seed("attn.paged.table"));
    for i in (1..pool.len()).rev() {
        pool.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut table = vec![0u32; (b * max_pages) as usize];
    let mut next = pool.into_iter();
    for (i, n) in lens.iter().enumerate() {
        for slot in 0..n.div_ceil(page) {
            table[i * max_pages as usize + slot as usize] = next.next().unwrap_or(0);
        }
    }
    Layout {
        page,
        b,
        h: v("h"),
        hkv: v("hkv").max(1),
        l,
        d: v("d"),
        lens,
        max_pages,
        pages,
        table,
    }
}

impl Layout {
    /// Keys in the batch: Σ lengths.
    pub(super) fn keys(&self) -> u64 {
        self.lens.iter().sum()
    }

    /// q and o once (`q_bytes` an element), the K and V rows of Σ lengths (`kv_bytes` an
    /// element), `scale_bytes` per (page, KV head) used, and the table entries and
    /// lengths the kernels read.
    pub(super) fn cost(&self, q_bytes: f64, kv_bytes: f64, scale_bytes: f64) -> Cost {
        let keys = self.keys() as f64;
        let (b, h, hkv, d) = (self.b as f64, self.h as f64, self.hkv as f64, self.d as f64);
        let pages = self.pages_used() as f64;
        Cost {
            flops: 4.0 * h * keys * d,
            bytes: 2.0 * b * h * d * q_bytes
                + 2.0 * hkv * keys * d * kv_bytes
                + pages * hkv * scale_bytes
                + (pages + b) * 4.0,
            ..Cost::default()
        }
    }

    /// Pages the batch uses: what the table entries read count.
    pub(super) fn pages_used(&self) -> u64 {
        self.lens.iter().map(|n| n.div_ceil(self.page)).sum()
    }

    /// The pool page holding sequence b's key t.
    pub(super) fn page_of(&self, b: usize, t: usize) -> usize {
        self.table[b * self.max_pages as usize + t / self.page as usize] as usize
    }

    /// Element offset of sequence b's key t for KV head kvh in K or V.
    pub(super) fn row(&self, b: usize, kvh: usize, t: usize) -> usize {
        let (page, d) = (self.page as usize, self.d as usize);
        ((self.page_of(b, t) * self.hkv as usize + kvh) * page + t % page) * d
    }

    /// The buffers both families upload: the table and the lengths, as u32.
    pub(super) fn table_buffers(&self) -> [BufferSpec; 2] {
        [
            BufferSpec::with_data("attn.table", DType::F32, u32_bytes(self.table.clone())),
            BufferSpec::with_data(
                "attn.lens",
                DType::F32,
                u32_bytes(self.lens.iter().map(|&n| n as u32)),
            ),
        ]
    }

    /// The three steps: scores over the pages, the row softmax, P·V over the pages.
    /// `scores` and `pv` are (kernel, buffer arguments); the scalars are added here.
    pub(super) fn steps(
        &self,
        dtype: DType,
        scores: (&'static str, &[PlanArg]),
        pv: (&'static str, &[PlanArg]),
        softmax_buffer: PlanArg,
        defines: &[(String, String)],
    ) -> Vec<Step> {
        let bh = self.b * self.h;
        let scale = PlanArg::F32(1.0 / (self.d as f32).sqrt());
        let step = |kernel, groups, threads, args: Vec<PlanArg>| {
            let dims = Dims {
                groups,
                threads: [threads, 1, 1],
            };
            Step::Launch(Launch::new(kernel, dtype, dims, args).defines(defines.to_vec()))
        };
        vec![
            step(
                scores.0,
                [groups(self.l, 256), bh as u32, 1],
                256,
                [scores.1, &self.scalars(), &[scale]].concat(),
            ),
            // Keys past a sequence's length score −∞: the softmax gives them weight 0.
            launch(
                "softmax_rows",
                DType::F32,
                Dims::linear((bh as u32).min(MAX_GROUPS), 256),
                vec![softmax_buffer, u32_arg(bh), u32_arg(self.l)],
            ),
            step(
                pv.0,
                [groups(self.d, 64), bh as u32, 1],
                64,
                [pv.1, &self.scalars()].concat(),
            ),
        ]
    }

    /// Checks sampled (b, h) rows of `out` against the f64 two-pass softmax over the
    /// pages the table names; `key` and `value` give element e of sequence b's key t for
    /// KV head kvh as the kernels must read it (dequantised, for a quantised cache).
    pub(super) fn check(
        &self,
        dtype: DType,
        q: &[u8],
        key: impl Fn(usize, usize, usize, usize) -> f64,
        value: impl Fn(usize, usize, usize, usize) -> f64,
        out: &[u8],
    ) -> Validation {
        let d = self.d as usize;
        let group = (self.h / self.hkv) as usize;
        let scale = 1.0 / (self.d as f64).sqrt();
        let mut checker = Checker::new();
        for row in data::sample((self.b * self.h) as usize, 128, seed("attn.sample")) {
            let (bb, hh) = (row / self.h as usize, row % self.h as usize);
            let kvh = hh / group;
            let len = self.lens[bb] as usize;
            let mut magnitude: f64 = 0.0;
            let scores: Vec<f64> = (0..len)
                .map(|t| {
                    let (mut s, mut m) = (0.0, 0.0);
                    for e in 0..d {
                        let p = get(dtype, q, row * d + e) * key(bb, kvh, t, e);
                        s += p;
                        m += p.abs();
                    }
                    magnitude = magnitude.max(m * scale);
                    s * scale
                })
                .collect();
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = weights.iter().sum();
            let u = unit_roundoff(DType::F32);
            let relative = 4.0 * unit_roundoff(dtype)
                + 4.0 * (d as f64).sqrt() * u * magnitude
                + 4.0 * (len as f64).sqrt() * u
                + 2e-6;
            for e in 0..d {
                let (mut want, mut size) = (0.0, 0.0);
                for (t, w) in weights.iter().enumerate() {
                    let term = w / sum * value(bb, kvh, t, e);
                    want += term;
                    size += term.abs();
                }
                let tol = 2.0 * unit_roundoff(dtype) * want.abs() + relative * size;
                checker.check(get(dtype, out, row * d + e), want, tol, || {
                    format!("O[b={bb},h={hh},d={e}] (length {len})")
                });
            }
        }
        checker.finish()
    }

    fn scalars(&self) -> Vec<PlanArg> {
        [
            self.b,
            self.h,
            self.hkv,
            self.l,
            self.d,
            self.page,
            self.max_pages,
        ]
        .into_iter()
        .map(u32_arg)
        .collect()
    }
}

fn u32_bytes(values: impl IntoIterator<Item = u32>) -> Vec<u8> {
    values.into_iter().flat_map(u32::to_le_bytes).collect()
}

impl Workload for Paged {
    /// Cold: a decode step reads its KV cache after the other layers evicted it.
    fn default_cache(&self, _shape: &Shape) -> crate::CacheState {
        crate::CacheState::Cold
    }

    fn name(&self) -> &'static str {
        "attention.paged"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["naive", "vendor"]
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

    fn check_shape(&self, shape: &Shape) -> Result<(), String> {
        check_table(shape)
    }

    fn shapes(&self, scale: Scale, _info: &DeviceInfo) -> Vec<Shape> {
        match scale {
            // Pages that do not divide the lengths, one sequence of length 1 (b=1, l=1),
            // and ragged batches with GQA.
            Scale::Smoke => vec![
                paged(16, 3, 4, 2, (1, 100), 16),
                paged(16, 1, 2, 1, (1, 1), 8),
                paged(7, 4, 6, 3, (1, 61), 24),
            ],
            // The dense quick decode's heads and total KV bytes (4 × 4096 keys): the pair
            // says what paging costs. Ragged batches are in smoke and full.
            Scale::Quick => vec![paged(16, 4, 16, 4, (4096, 4096), 128)],
            Scale::Full => vec![
                paged(16, 4, 16, 4, (4096, 4096), 128),
                paged(16, 8, 16, 4, (1, 4096), 128),
                paged(16, 16, 32, 8, (1, 16384), 128),
            ],
        }
    }

    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        let size = dtype.size() as f64;
        layout(shape).cost(size, size, 0.0)
    }

    fn plan(&self, variant: &str, dtype: DType, shape: &Shape, _info: &DeviceInfo) -> Plan {
        let x = layout(shape);
        let bh = x.b * x.h;
        let kv = x.pages * x.hkv * x.page * x.d;
        let [table, lens] = x.table_buffers();
        let mut buffers = vec![
            BufferSpec::input("attn.q", dtype, bh * x.d),
            BufferSpec::input("attn.k", dtype, kv),
            BufferSpec::input("attn.v", dtype, kv),
            table,
            lens,
            BufferSpec::output("attn.o", bh * x.d * dtype.size() as u64),
        ];
        let steps = if variant == "vendor" {
            // The vendor library's paged decode attention, as a builtin (aclnn's fused
            // inference attention with a block table).
            let args = AttnPagedArgs {
                q: 0,
                k: 1,
                v: 2,
                table: 3,
                lens: 4,
                o: 5,
                heads: Heads {
                    batch: x.b as u32,
                    heads: x.h as u32,
                    kv_heads: x.hkv as u32,
                    keys: x.l as u32,
                    head_dim: x.d as u32,
                },
                page: x.page as u32,
                max_pages: x.max_pages as u32,
                scale: 1.0 / (x.d as f32).sqrt(),
            };
            vec![launch(
                "attn_paged_vendor",
                dtype,
                Dims::linear(1, 1),
                args.encode(),
            )]
        } else {
            buffers.push(BufferSpec::output("attn.scores", bh * x.l * 4));
            x.steps(
                dtype,
                (
                    "attn_paged_scores",
                    &[buf(0), buf(1), buf(3), buf(4), buf(6)],
                ),
                ("attn_paged_pv", &[buf(6), buf(2), buf(3), buf(4), buf(5)]),
                buf(6),
                &[],
            )
        };
        Plan {
            buffers,
            steps,
            output: Output::Buffer(5),
        }
    }

    /// Sampled (b, h) rows against the f64 two-pass softmax over the pages the table
    /// names, with the dense decode's tolerance.
    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let x = layout(shape);
        let (q, k, v) = (plan.data(0), plan.data(1), plan.data(2));
        let at = |b, kvh, t, e| x.row(b, kvh, t) + e;
        x.check(
            dtype,
            q,
            |b, kvh, t, e| get(dtype, k, at(b, kvh, t, e)),
            |b, kvh, t, e| get(dtype, v, at(b, kvh, t, e)),
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_deals_every_page_once_in_shuffled_order() {
        let x = layout(&paged(16, 3, 4, 2, (1, 100), 16));
        assert_eq!(x.lens[0], 100);
        assert!(x.lens.iter().all(|&n| (1..=100).contains(&n)));
        let mut used: Vec<u32> = (0..x.b as usize)
            .flat_map(|b| {
                let n = x.lens[b].div_ceil(x.page) as usize;
                x.table[b * x.max_pages as usize..][..n].to_vec()
            })
            .collect();
        assert!(used.windows(2).any(|w| w[1] != w[0] + 1), "shuffled");
        used.sort_unstable();
        assert_eq!(used, (0..x.pages as u32).collect::<Vec<_>>());
    }
}
