//! attention.kv8: decode attention over a KV cache stored in 8 bits, as vLLM's and
//! TensorRT-LLM's int8 and fp8 caches serve it. The cache is paged exactly as
//! attention.paged's (same keys after `kv`, same shuffled table, same ragged lengths);
//! `page=l,lmin=l` is the dense cache, one contiguous page per sequence. Each element is
//! one byte: `int8` a signed byte in −127..=127, `fp8` an e4m3 (OCP E4M3FN) code, decoded
//! in software by every dialect. Each (page, KV head) has its own f32 scale for K and for
//! V (per sequence and head when the cache is dense); a value is its byte times its scale.
//! q and o are in the case's dtype; the arithmetic is f32.
//!
//! Bytes counted: the stored bytes (one per K or V element of Σ lengths), the scales of
//! the pages used, q, o, the table and the lengths. Its twin at the same shape without
//! `kv=8` is attention.paged in the case's dtype: the pair says what the 8-bit cache buys.

use float8::F8E4M3;
use halbench_hal::{DType, DeviceInfo};

use super::attention::buf;
use super::paged::{check_table, layout};
use crate::check::Validation;
use crate::data::{get, seed, Rng};
use crate::plan::{BufferSpec, Output, Plan};
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

pub(crate) struct Kv8;

/// `kv` first: a spec is this family's when it names a cache width (8, the only one).
/// The rest are attention.paged's keys.
const KEYS: &[&str] = &["kv", "page", "b", "h", "hkv", "l", "lmin", "d"];

fn kv8(page: u64, b: u64, h: u64, hkv: u64, (lmin, l): (u64, u64), d: u64) -> Shape {
    Shape::Keyed {
        keys: KEYS,
        values: [8, page, b, h, hkv, l, lmin, d],
    }
}

/// How the bytes of the cache are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Int8,
    Fp8,
}

impl Format {
    fn of(variant: &str) -> Format {
        if variant == "fp8" {
            Format::Fp8
        } else {
            Format::Int8
        }
    }

    /// The value a byte stands for, before its scale.
    fn decode(self, byte: u8) -> f64 {
        match self {
            Format::Int8 => f64::from(byte as i8),
            Format::Fp8 => F8E4M3::from_bits(byte).to_f64(),
        }
    }

    /// Seeded bytes: every int8 value but −128; every e4m3 code but the two NaNs, so
    /// subnormals, zeros of both signs and ±448 are all read.
    fn bytes(self, n: u64, label: &str) -> Vec<u8> {
        let mut rng = Rng::new(seed(label));
        (0..n)
            .map(|_| loop {
                let b = rng.next_u64() as u8;
                let ok = match self {
                    Format::Int8 => b != 0x80,
                    Format::Fp8 => b & 0x7f != 0x7f,
                };
                if ok {
                    break b;
                }
            })
            .collect()
    }

    /// The largest value a byte stands for: scales (in [0.25, 1.25) over it) bring it to
    /// about 1.
    fn max(self) -> f32 {
        match self {
            Format::Int8 => 127.0,
            Format::Fp8 => 448.0,
        }
    }
}

impl Workload for Kv8 {
    /// Cold: a decode step reads its KV cache after the other layers evicted it.
    fn default_cache(&self, _shape: &Shape) -> crate::CacheState {
        crate::CacheState::Cold
    }

    fn name(&self) -> &'static str {
        "attention.kv8"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["int8", "fp8"]
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
            // attention.paged's smoke shapes (pages not dividing the lengths, one sequence
            // of length 1, ragged GQA batches) and a dense cache.
            Scale::Smoke => vec![
                kv8(16, 3, 4, 2, (1, 100), 16),
                kv8(16, 1, 2, 1, (1, 1), 8),
                kv8(7, 4, 6, 3, (1, 61), 24),
                kv8(37, 2, 4, 4, (37, 37), 32),
            ],
            // attention.paged's quick shape, its twin in the quick suite; a dense cache (twin:
            // attention.decode's naive) is in full.
            Scale::Quick => vec![kv8(16, 4, 16, 4, (4096, 4096), 128)],
            // attention.paged's full shapes, and attention.decode's first as a dense cache.
            Scale::Full => vec![
                kv8(16, 4, 16, 4, (4096, 4096), 128),
                kv8(16, 8, 16, 4, (1, 4096), 128),
                kv8(16, 16, 32, 8, (1, 16384), 128),
                kv8(4096, 8, 32, 8, (4096, 4096), 128),
            ],
        }
    }

    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        // One byte per K or V element, and an f32 scale for K and one for V per page and
        // KV head.
        layout(shape).cost(dtype.size() as f64, 1.0, 8.0)
    }

    fn plan(&self, variant: &str, dtype: DType, shape: &Shape, _info: &DeviceInfo) -> Plan {
        let format = Format::of(variant);
        let x = layout(shape);
        let bh = x.b * x.h;
        // Whole 32-bit words: GLSL reads the bytes as words.
        let kv = (x.pages * x.hkv * x.page * x.d).next_multiple_of(4);
        // Generated on first use, as random inputs are: a cache too big for the device
        // is refused before its bytes are made.
        let (n_scales, max) = (x.pages * x.hkv, format.max());
        let scales = move |label: &'static str| {
            BufferSpec::generated(label, DType::F32, n_scales * 4, move || {
                let mut rng = Rng::new(seed(label));
                (0..n_scales)
                    .flat_map(|_| ((1.5 + rng.value()) / 2.0 / max).to_le_bytes())
                    .collect()
            })
        };
        let cache = move |label: &'static str| {
            BufferSpec::generated(label, DType::F32, kv, move || format.bytes(kv, label))
        };
        let [table, lens] = x.table_buffers();
        let buffers = vec![
            BufferSpec::input("attn.q", dtype, bh * x.d),
            cache("attn.k8"),
            cache("attn.v8"),
            scales("attn.k8.scales"),
            scales("attn.v8.scales"),
            table,
            lens,
            BufferSpec::output("attn.o", bh * x.d * dtype.size() as u64),
            BufferSpec::output("attn.scores", bh * x.l * 4),
        ];
        let fp8 = u8::from(format == Format::Fp8).to_string();
        let steps = x.steps(
            dtype,
            (
                "attn_kv8_scores",
                &[buf(0), buf(1), buf(3), buf(5), buf(6), buf(8)],
            ),
            (
                "attn_kv8_pv",
                &[buf(8), buf(2), buf(4), buf(5), buf(6), buf(7)],
            ),
            buf(8),
            &[("KV_FP8".into(), fp8)],
        );
        Plan {
            buffers,
            steps,
            output: Output::Buffer(7),
        }
    }

    /// attention.paged's reference and tolerance, over the dequantised cache: each byte
    /// decoded exactly (f64) times its page's scale.
    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let x = layout(shape);
        let format = if plan.define("KV_FP8") == Some("1") {
            Format::Fp8
        } else {
            Format::Int8
        };
        let (q, k, v) = (plan.data(0), plan.data(1), plan.data(2));
        let (ks, vs) = (plan.data(3), plan.data(4));
        let hkv = x.hkv as usize;
        let value = |bytes: &[u8], scales: &[u8], b, kvh, t, e| {
            let scale = get(DType::F32, scales, x.page_of(b, t) * hkv + kvh);
            format.decode(bytes[x.row(b, kvh, t) + e]) * scale
        };
        x.check(
            dtype,
            q,
            |b, kvh, t, e| value(k, ks, b, kvh, t, e),
            |b, kvh, t, e| value(v, vs, b, kvh, t, e),
            out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp8_data_reads_every_code_but_nan_and_int8_is_symmetric() {
        let fp8 = Format::Fp8.bytes(1 << 14, "t");
        let mut seen = [false; 256];
        for &b in &fp8 {
            seen[b as usize] = true;
        }
        assert!(!seen[0x7f] && !seen[0xff]);
        assert_eq!(seen.iter().filter(|&&s| s).count(), 254);
        assert!(Format::Int8.bytes(1 << 14, "t").iter().all(|&b| b != 0x80));
        assert_eq!(Format::Fp8.decode(0x7e), 448.0);
        assert_eq!(Format::Fp8.decode(0x01), 2f64.powi(-9));
        assert_eq!(Format::Int8.decode(0x81), -127.0);
    }

    #[test]
    fn bytes_count_one_per_stored_element() {
        let shape = kv8(16, 1, 2, 1, (32, 32), 8);
        let c = Kv8.cost(&shape, DType::F32);
        // q and o (2·2·8 f32), K and V (2·32·8 bytes), 2 pages' K and V scales, 2 table
        // entries and one length.
        assert_eq!(
            c.bytes,
            (2 * 2 * 8 * 4 + 2 * 32 * 8 + 2 * 2 * 4 + 3 * 4) as f64
        );
    }
}
