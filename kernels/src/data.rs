//! Deterministic inputs and dtype encoding. Inputs are uniform in [-1, 1) and never zero
//! (a zero page compresses, and some devices would then report inflated bandwidth).

use halbench_hal::DType;

use rayon::prelude::*;

/// xorshift64*: tiny, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so nearby seeds give unrelated streams and 0 is fine.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-1, 1), never exactly zero.
    pub fn value(&mut self) -> f32 {
        let v = (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
        if v == 0.0 {
            0.5
        } else {
            v
        }
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A seed from a label, so each buffer of each workload gets its own stream.
pub fn seed(label: &str) -> u64 {
    label.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

const CHUNK: usize = 1 << 16;

/// The per-tensor scale of random `dtype` inputs: an element's value is what its bits say
/// times this. 1 for the 16- and 32-bit floats; for fp8 a power of two (exact) that spreads
/// [-1, 1) over the type's range below its largest power of two (e4m3 codes in [-256, 256),
/// e5m2 in [-32768, 32768)), as a calibrated per-tensor scale would.
pub fn input_scale(dtype: DType) -> f64 {
    if dtype.is_fp8() {
        1.0 / f64::powi(2.0, dtype.max_finite().log2().floor() as i32)
    } else {
        1.0
    }
}

/// `n` random elements of `dtype`, encoded (fp8 divided by its [`input_scale`] first), generated in parallel chunks (each chunk has
/// its own stream, so the result does not depend on the thread count).
pub fn random(dtype: DType, n: usize, seed: u64) -> Vec<u8> {
    let size = dtype.size();
    let unscale = (1.0 / input_scale(dtype)) as f32;
    let mut out = vec![0u8; n * size];
    out.par_chunks_mut(CHUNK * size)
        .enumerate()
        .for_each(|(c, bytes)| {
            let mut rng = Rng::new(seed ^ (c as u64).wrapping_mul(0x9E37_79B9));
            for e in bytes.chunks_exact_mut(size) {
                dtype.encode(rng.value() * unscale, e);
            }
        });
    out
}

/// Element `i` of an encoded array, widened to f64.
pub fn get(dtype: DType, bytes: &[u8], i: usize) -> f64 {
    let size = dtype.size();
    let e = &bytes[i * size..(i + 1) * size];
    dtype.decode(e)
}

/// A whole encoded array widened to f64.
pub fn widen(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    (0..bytes.len() / dtype.size())
        .into_par_iter()
        .map(|i| get(dtype, bytes, i))
        .collect()
}

/// Which of `total` outputs to check: all of them when there are at most `max`, else
/// both ends (where tail bugs live) and a random sample of the middle.
pub fn sample(total: usize, max: usize, seed: u64) -> Vec<usize> {
    if total <= max {
        return (0..total).collect();
    }
    let edge = max / 8;
    let mut rng = Rng::new(seed);
    let mut out: Vec<usize> = (0..edge).chain(total - edge..total).collect();
    out.extend((0..max - 2 * edge).map(|_| rng.below(total as u64) as usize));
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_deterministic_and_never_zero() {
        let a = random(DType::BF16, 200_000, 7);
        assert_eq!(a, random(DType::BF16, 200_000, 7));
        assert_ne!(a, random(DType::BF16, 200_000, 8));
        let v = widen(DType::BF16, &a);
        assert!(v.iter().all(|x| *x != 0.0 && (-1.0..=1.0).contains(x)));
    }

    #[test]
    fn samples_cover_both_ends() {
        let s = sample(1_000_000, 1000, 1);
        assert!(s.contains(&0) && s.contains(&999_999));
        assert!(s.len() > 800 && s.len() <= 1000);
        assert_eq!(sample(10, 1000, 1), (0..10).collect::<Vec<_>>());
    }
}
