//! BabelStream's kernels: copy c=a, scale b=s·c, add c=a+b, triad a=b+s·c, dot Σa·b.
//! Each array is cut into one slab per thread; the inner loops are plain loops over
//! equal-length slices, compiled for 256-bit vectors ([`super::simd::wide256`]). At 2^27
//! floats on two threads that took copy from 22-24 GB/s best to 25-26 and add from 26 to
//! 27-28, level with BabelStream's OpenMP build (`ci/peers.sh`).

use std::sync::atomic::{compiler_fence, Ordering};

use rayon::prelude::*;

use super::slab_len;
use crate::launch::{KernelResult, Launch};

/// A copy split over the threads, as a loop of vector loads and stores rather than
/// memcpy: glibc's memcpy switches to non-temporal stores at these sizes, which read
/// slower here than plain stores (the copy kernel's best 35 GB/s against scale's 47).
pub(crate) fn parallel_copy(src: &[u8], dst: &mut [u8]) {
    let slab = slab_len(src.len());
    dst.par_chunks_mut(slab)
        .zip(src.par_chunks(slab))
        .for_each(|(d, s)| {
            super::simd::wide256(
                #[inline(always)]
                || copy_in_blocks(d, s),
            )
        });
}

#[inline(always)]
fn copy_in_blocks(dst: &mut [u8], src: &[u8]) {
    const BLOCK: usize = 256;
    let mut to = dst.chunks_exact_mut(BLOCK);
    let mut from = src.chunks_exact(BLOCK);
    for (d, s) in (&mut to).zip(&mut from) {
        d.copy_from_slice(s);
        // Emits nothing, but no access moves across it, so LLVM cannot turn the loop of
        // 256-byte moves back into one memcpy call.
        compiler_fence(Ordering::SeqCst);
    }
    to.into_remainder().copy_from_slice(from.remainder());
}

/// copy(a, c; n)
pub(crate) fn copy(l: &mut Launch<'_>) -> KernelResult {
    let n = l.count(0)?;
    let (a, c) = (l.input::<f32>(0, n)?, l.output::<f32>(1, n)?);
    parallel_copy(bytemuck::cast_slice(a), bytemuck::cast_slice_mut(c));
    Ok(())
}

/// scale(c, b; n, s)
pub(crate) fn scale(l: &mut Launch<'_>) -> KernelResult {
    let (n, s) = (l.count(0)?, l.f32(1)?);
    let (c, b) = (l.input::<f32>(0, n)?, l.output::<f32>(1, n)?);
    map1(b, c, move |c| s * c);
    Ok(())
}

/// add(a, b, c; n)
pub(crate) fn add(l: &mut Launch<'_>) -> KernelResult {
    let n = l.count(0)?;
    let (a, b, c) = (
        l.input::<f32>(0, n)?,
        l.input::<f32>(1, n)?,
        l.output::<f32>(2, n)?,
    );
    map2(c, a, b, |a, b| a + b);
    Ok(())
}

/// triad(b, c, a; n, s)
pub(crate) fn triad(l: &mut Launch<'_>) -> KernelResult {
    let (n, s) = (l.count(0)?, l.f32(1)?);
    let (b, c, a) = (
        l.input::<f32>(0, n)?,
        l.input::<f32>(1, n)?,
        l.output::<f32>(2, n)?,
    );
    map2(a, b, c, move |b, c| b + s * c);
    Ok(())
}

/// out[i] = f(x[i]), one slab per thread. `f` must own what it captures (a `move`
/// closure): a scalar captured by reference is reloaded every element, since the store
/// might change it, and the loop stays scalar (scale 20 GB/s against 24).
fn map1(out: &mut [f32], x: &[f32], f: impl Fn(f32) -> f32 + Sync) {
    let slab = slab_len(out.len());
    out.par_chunks_mut(slab)
        .zip(x.par_chunks(slab))
        .for_each(|(out, x)| {
            super::simd::wide256(
                #[inline(always)]
                || {
                    for (o, x) in out.iter_mut().zip(x) {
                        *o = f(*x);
                    }
                },
            )
        });
}

/// out[i] = f(x[i], y[i]), as [`map1`].
fn map2(out: &mut [f32], x: &[f32], y: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    let slab = slab_len(out.len());
    out.par_chunks_mut(slab)
        .zip(x.par_chunks(slab).zip(y.par_chunks(slab)))
        .for_each(|(out, (x, y))| {
            super::simd::wide256(
                #[inline(always)]
                || {
                    for ((o, x), y) in out.iter_mut().zip(x).zip(y) {
                        *o = f(*x, *y);
                    }
                },
            )
        });
}

/// dot(a, b, partial; n): partial[g] = the dot product of group g's contiguous share,
/// for g in 0..groups. The host (or a workload's check) sums the partials.
pub(crate) fn dot(l: &mut Launch<'_>) -> KernelResult {
    let n = l.count(0)?;
    let groups = l.dims.groups.iter().map(|&g| g as usize).product::<usize>();
    let (a, b, partial) = (
        l.input::<f32>(0, n)?,
        l.input::<f32>(1, n)?,
        l.output::<f32>(2, groups)?,
    );
    let share = n.div_ceil(groups);
    partial.par_iter_mut().enumerate().for_each(|(g, p)| {
        let lo = (g * share).min(n);
        let hi = (lo + share).min(n);
        *p = super::dot(&a[lo..hi], &b[lo..hi]);
    });
    Ok(())
}

/// sweep(a, partial; n, reps, slot): partial[slot·groups + g] = the sum of group g's
/// contiguous share of a, read `reps` times (the memory curve). Each share stays on one thread, so its bytes stay
/// in that core's caches from pass to pass.
pub(crate) fn sweep(l: &mut Launch<'_>) -> KernelResult {
    let (n, reps, slot) = (l.count(0)?, l.count(1)?, l.u32(2)? as usize);
    let groups = l.dims.groups.iter().map(|&g| g as usize).product::<usize>();
    let a = l.input::<f32>(0, n)?;
    let partial = &mut l.output::<f32>(1, (slot + 1) * groups)?[slot * groups..];
    let share = n.div_ceil(groups.max(1));
    partial.par_iter_mut().enumerate().for_each(|(g, p)| {
        let lo = (g * share).min(n);
        let hi = (lo + share).min(n);
        *p = super::simd::widest(
            #[inline(always)]
            || passes(&a[lo..hi], reps),
        );
    });
    Ok(())
}

/// `reps` passes over `a`, each summed afresh into 64 lanes: four AVX-512 registers of
/// independent adds, so a pass over L1-resident data is not bound by one chain of adds
/// (here, two threads: 32 lanes 278-280 GB/s at 256 KiB, 64 lanes 309-332, 128 lanes
/// 306-307). Every lane's sum is the same in each pass; keeping each lane's maximum (one
/// vector max a pass) makes every pass's loads count, with no pass's result dead, while
/// the answer stays one pass's sum, rounded as one sum rather than `reps` of them.
#[inline(always)]
fn passes(a: &[f32], reps: usize) -> f32 {
    const LANES: usize = 64;
    let mut best = [f32::NEG_INFINITY; LANES + 1];
    for _ in 0..reps {
        let mut acc = [0f32; LANES];
        let chunks = a.chunks_exact(LANES);
        let tail = chunks.remainder().iter().sum::<f32>();
        for x in chunks {
            for i in 0..LANES {
                acc[i] += x[i];
            }
        }
        for i in 0..LANES {
            best[i] = best[i].max(acc[i]);
        }
        best[LANES] = best[LANES].max(tail);
    }
    best.iter().sum()
}
