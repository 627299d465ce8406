//! `peak_fma` and `latency_empty` (kernels/README.md). The FMA chains run sixteen
//! work-items at a time, one per vector lane, eight chains deep: eight independent vector
//! FMAs per step keep both FMA pipes of a core busy through their latency.

use rayon::prelude::*;

use crate::launch::{KernelResult, Launch};

const LANES: usize = 16;
const CHAINS: usize = 8;

/// Work-items per rayon task: enough to amortise scheduling, small enough to balance.
const ITEMS_PER_TASK: usize = 256;

type Block = [[f32; LANES]; CHAINS];

#[inline(always)]
fn start(first_item: usize) -> Block {
    let mut x = [[0f32; LANES]; CHAINS];
    for (j, chain) in x.iter_mut().enumerate() {
        for (l, v) in chain.iter_mut().enumerate() {
            *v = ((first_item + l + j) & 63) as f32 * 0.25;
        }
    }
    x
}

// Explicit vector registers: left to itself LLVM keeps the block in memory and gathers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fused_avx512(x: &mut Block, iters: u32, a: f32, b: f32) {
    use std::arch::x86_64::*;
    let (va, vb) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
    // SAFETY: each chain is 16 floats, one unaligned 512-bit load and store.
    let mut r: [__m512; CHAINS] =
        std::array::from_fn(|j| unsafe { _mm512_loadu_ps(x[j].as_ptr()) });
    for _ in 0..iters {
        for v in r.iter_mut() {
            *v = _mm512_fmadd_ps(*v, va, vb);
        }
    }
    for (chain, v) in x.iter_mut().zip(r) {
        // SAFETY: as above.
        unsafe { _mm512_storeu_ps(chain.as_mut_ptr(), v) };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fused_avx2(x: &mut Block, iters: u32, a: f32, b: f32) {
    use std::arch::x86_64::*;
    let (va, vb) = (_mm256_set1_ps(a), _mm256_set1_ps(b));
    let halves = x.as_flattened_mut();
    // SAFETY: 2·CHAINS runs of 8 floats inside the block.
    let mut r: [__m256; 2 * CHAINS] =
        std::array::from_fn(|k| unsafe { _mm256_loadu_ps(halves[8 * k..].as_ptr()) });
    for _ in 0..iters {
        for v in r.iter_mut() {
            *v = _mm256_fmadd_ps(*v, va, vb);
        }
    }
    for (k, v) in r.into_iter().enumerate() {
        // SAFETY: as above.
        unsafe { _mm256_storeu_ps(halves[8 * k..].as_mut_ptr(), v) };
    }
}

#[cfg(target_arch = "aarch64")]
fn fused_neon(x: &mut Block, iters: u32, a: f32, b: f32) {
    for _ in 0..iters {
        for chain in x.iter_mut() {
            for v in chain.iter_mut() {
                *v = v.mul_add(a, b);
            }
        }
    }
}

/// Without hardware FMA, `mul_add` is a library call: multiply and add instead.
fn unfused(x: &mut Block, iters: u32, a: f32, b: f32) {
    for _ in 0..iters {
        for chain in x.iter_mut() {
            for v in chain.iter_mut() {
                *v = *v * a + b;
            }
        }
    }
}

fn chains_for_this_cpu() -> fn(&mut Block, u32, f32, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the features it was compiled for are present.
            return |x, i, a, b| unsafe { fused_avx512(x, i, a, b) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return |x, i, a, b| unsafe { fused_avx2(x, i, a, b) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // NEON always has FMA.
        return fused_neon;
    }
    #[allow(unreachable_code)]
    unfused
}

/// peak_fma(out; n, iters, a, b): work-item i runs eight chains of x = x·a + b from
/// x_j = ((i + j) mod 64) / 4 and writes their sum.
pub(crate) fn fma(l: &mut Launch<'_>) -> KernelResult {
    let (n, iters, a, b) = (l.count(0)?, l.u32(1)?, l.f32(2)?, l.f32(3)?);
    let out = l.output::<f32>(0, n)?;
    let chains = chains_for_this_cpu();
    out.par_chunks_mut(ITEMS_PER_TASK)
        .enumerate()
        .for_each(|(task, out)| {
            for (block, out) in out.chunks_mut(LANES).enumerate() {
                let first = task * ITEMS_PER_TASK + block * LANES;
                let mut x = start(first);
                chains(&mut x, iters, a, b);
                for (l, o) in out.iter_mut().enumerate() {
                    *o = x.iter().map(|chain| chain[l]).sum();
                }
            }
        });
    Ok(())
}

/// True when this CPU computes bf16 pairs into f32 (AVX512_BF16's `vdpbf16ps`).
pub(crate) fn has_bf16_dot() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512bf16") && is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Two blocks of sixteen work-items, four chains each: eight `vdpbf16ps` in flight.
type DotBlock = [[f32; LANES]; 8];

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
fn dot2_avx512(x: &mut DotBlock, iters: u32, a: f32, b: f32) {
    use std::arch::x86_64::*;
    let pa = _mm512_cvtne2ps_pbh(_mm512_set1_ps(a), _mm512_set1_ps(a));
    let pb = _mm512_cvtne2ps_pbh(_mm512_set1_ps(b), _mm512_set1_ps(b));
    // SAFETY: each chain is 16 floats, one unaligned 512-bit load and store.
    let mut r: [__m512; 8] = std::array::from_fn(|j| unsafe { _mm512_loadu_ps(x[j].as_ptr()) });
    for _ in 0..iters {
        for v in r.iter_mut() {
            *v = _mm512_dpbf16_ps(*v, pa, pb);
        }
    }
    for (chain, v) in x.iter_mut().zip(r) {
        // SAFETY: as above.
        unsafe { _mm512_storeu_ps(chain.as_mut_ptr(), v) };
    }
}

/// peak_dot2(out; n, iters, a, b), out bf16: work-item i runs four chains of
/// acc += a·b + a·b (bf16 products, f32 sums) from acc_j = ((i + j) mod 64) / 4 and writes
/// their sum. Compiled only where [`has_bf16_dot`].
pub(crate) fn dot2(l: &mut Launch<'_>) -> KernelResult {
    let (n, iters, a, b) = (l.count(0)?, l.u32(1)?, l.f32(2)?, l.f32(3)?);
    let out = l.output::<half::bf16>(0, n)?;
    if !has_bf16_dot() {
        return Err("peak_dot2 needs AVX512_BF16".into());
    }
    out.par_chunks_mut(ITEMS_PER_TASK)
        .enumerate()
        .for_each(|(task, out)| {
            for (block, out) in out.chunks_mut(2 * LANES).enumerate() {
                let first = task * ITEMS_PER_TASK + block * 2 * LANES;
                let mut x: DotBlock = std::array::from_fn(|r| {
                    let (h, j) = (r / 4, r % 4);
                    std::array::from_fn(|l| ((first + h * LANES + l + j) & 63) as f32 * 0.25)
                });
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the features it was compiled for are present (checked above).
                unsafe {
                    dot2_avx512(&mut x, iters, a, b)
                };
                for (i, o) in out.iter_mut().enumerate() {
                    let (h, l) = (i / LANES, i % LANES);
                    let sum: f32 = (0..4).map(|j| x[h * 4 + j][l]).sum();
                    *o = half::bf16::from_f32(sum);
                }
            }
        });
    Ok(())
}

/// latency_empty(out; flag): writes zeros only when flag is non-zero.
pub(crate) fn empty(l: &mut Launch<'_>) -> KernelResult {
    if l.u32(0)? != 0 {
        l.output::<f32>(0, 1)?.fill(0.0);
    }
    Ok(())
}
