//! BabelStream's kernels: copy c=a, scale b=s·c, add c=a+b, triad a=b+s·c, dot Σa·b.
//! Each array is cut into one slab per thread; the inner loops are plain indexed loops
//! over equal-length slices, which LLVM turns into full-width vector code.

use rayon::prelude::*;

use super::slab_len;
use crate::launch::{KernelResult, Launch};

pub(crate) fn parallel_copy(src: &[u8], dst: &mut [u8]) {
    let slab = slab_len(src.len());
    dst.par_chunks_mut(slab)
        .zip(src.par_chunks(slab))
        .for_each(|(d, s)| d.copy_from_slice(s));
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
    let slab = slab_len(n);
    b.par_chunks_mut(slab)
        .zip(c.par_chunks(slab))
        .for_each(|(b, c)| {
            for (b, c) in b.iter_mut().zip(c) {
                *b = s * c;
            }
        });
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
    let slab = slab_len(n);
    c.par_chunks_mut(slab)
        .zip(a.par_chunks(slab).zip(b.par_chunks(slab)))
        .for_each(|(c, (a, b))| {
            for ((c, a), b) in c.iter_mut().zip(a).zip(b) {
                *c = a + b;
            }
        });
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
    let slab = slab_len(n);
    a.par_chunks_mut(slab)
        .zip(b.par_chunks(slab).zip(c.par_chunks(slab)))
        .for_each(|(a, (b, c))| {
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a = b + s * c;
            }
        });
    Ok(())
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
