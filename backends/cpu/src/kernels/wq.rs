//! gemm_wq(A, W, S, C; M, N, K, G): C = A·dequant(W) with W int8 or int4 (the `WQ_BITS`
//! define) over the flattened index k·N + n (int4: the even index in the low nibble, value
//! − 8) and one scale per column per group of G rows of K. The small-M GEMM's strips: each
//! task dequantises its strip of W eight rows at a time and folds them into every row of
//! C, so W is read once.

use rayon::prelude::*;

use super::gemm::{accumulate, SMALL_M_COLUMNS, SMALL_M_DEPTH};
use super::simd::widest;
use crate::elem::Elem;
use crate::launch::{product, KernelResult, Launch};

pub(crate) fn wq8<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    wq::<T, 8>(l)
}

pub(crate) fn wq4<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    wq::<T, 4>(l)
}

fn wq<T: Elem, const BITS: usize>(l: &mut Launch<'_>) -> KernelResult {
    let (m, n, k, g) = (l.count(0)?, l.count(1)?, l.count(2)?, l.count(3)?);
    let a = l.input::<T>(0, product(&[m, k])?)?;
    let w = l.input::<u8>(1, (product(&[k, n, BITS])?).div_ceil(8))?;
    let s = l.input::<T>(2, product(&[k.div_ceil(g), n])?)?;
    let c = l.output::<T>(3, product(&[m, n])?)?;
    let x = Weights {
        a: a.iter().map(|x| x.to_f32()).collect(),
        w,
        s,
        m,
        n,
        k,
        g,
    };
    let strips = n.div_ceil(SMALL_M_COLUMNS);
    let done: Vec<(usize, usize, Vec<f32>)> = (0..strips)
        .into_par_iter()
        .map_init(
            || {
                (
                    vec![0f32; SMALL_M_DEPTH * SMALL_M_COLUMNS],
                    vec![0f32; SMALL_M_COLUMNS],
                )
            },
            |(scratch, scales), strip| {
                let j0 = strip * SMALL_M_COLUMNS;
                let width = SMALL_M_COLUMNS.min(n - j0);
                let acc = widest(
                    #[inline(always)]
                    || wq_strip::<T, BITS>(&x, j0, width, scratch, scales),
                );
                (j0, width, acc)
            },
        )
        .collect();
    for (j0, width, acc) in done {
        for (i, row) in acc.chunks_exact(width).enumerate() {
            T::store(row, &mut c[i * n + j0..i * n + j0 + width]);
        }
    }
    Ok(())
}

/// One launch's operands: A widened to f32, W's bytes, the scales.
struct Weights<'a, T> {
    a: Vec<f32>,
    w: &'a [u8],
    s: &'a [T],
    m: usize,
    n: usize,
    k: usize,
    g: usize,
}

/// Columns [j0, j0 + width) of C: W's strip dequantised eight rows at a time and folded
/// into every row.
#[inline(always)]
fn wq_strip<T: Elem, const BITS: usize>(
    x: &Weights<'_, T>,
    j0: usize,
    width: usize,
    scratch: &mut [f32],
    scales: &mut [f32],
) -> Vec<f32> {
    let (n, k, g) = (x.n, x.k, x.g);
    let mut acc = vec![0f32; x.m * width];
    let mut group = usize::MAX;
    for p0 in (0..k).step_by(SMALL_M_DEPTH) {
        let depth = SMALL_M_DEPTH.min(k - p0);
        for (q, row) in scratch
            .chunks_exact_mut(SMALL_M_COLUMNS)
            .take(depth)
            .enumerate()
        {
            let p = p0 + q;
            if p / g != group {
                group = p / g;
                T::load(&x.s[group * n + j0..][..width], &mut scales[..width]);
            }
            dequantise::<BITS>(x.w, p * n + j0, &scales[..width], &mut row[..width]);
        }
        let mut rows: [&[f32]; SMALL_M_DEPTH] = [&[]; SMALL_M_DEPTH];
        for (r, row) in rows.iter_mut().zip(scratch.chunks_exact(SMALL_M_COLUMNS)) {
            *r = &row[..width];
        }
        for (i, acc_row) in acc.chunks_exact_mut(width).enumerate() {
            accumulate(
                acc_row,
                &x.a[i * k + p0..i * k + p0 + depth],
                &rows[..depth],
            );
        }
    }
    acc
}

/// `out[c] = q(base + c) · scales[c]`: W's values from flat index `base` on.
#[inline(always)]
fn dequantise<const BITS: usize>(w: &[u8], base: usize, scales: &[f32], out: &mut [f32]) {
    let width = out.len();
    if BITS == 8 {
        for ((o, &q), sc) in out.iter_mut().zip(&w[base..base + width]).zip(scales) {
            *o = f32::from(q as i8) * sc;
        }
    } else if base.is_multiple_of(2) && width.is_multiple_of(2) {
        // Whole bytes: two nibbles each, low first.
        let bytes = &w[base / 2..(base + width) / 2];
        for ((o, sc), &byte) in out
            .chunks_exact_mut(2)
            .zip(scales.chunks_exact(2))
            .zip(bytes)
        {
            o[0] = (f32::from(byte & 15) - 8.0) * sc[0];
            o[1] = (f32::from(byte >> 4) - 8.0) * sc[1];
        }
    } else {
        for (c, (o, sc)) in out.iter_mut().zip(scales).enumerate() {
            let idx = base + c;
            let byte = w[idx / 2];
            let q = if idx % 2 == 1 { byte >> 4 } else { byte & 15 };
            *o = (f32::from(q) - 8.0) * sc;
        }
    }
}
