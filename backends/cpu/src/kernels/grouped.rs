//! gemm_grouped(A, W, tiles, C; N, K, tile0, tile_end): for each row tile (expert e, first
//! row r0, rows) of tiles[tile0..tile_end], C[r0 + r, :] = A[r0 + r, :] · W[e], W `[E, K, N]`.
//! A task is one tile's strip of columns: it streams its expert's strip of W once, folding
//! each row of W into every row of the tile, so a tile of one row (a decode batch spread
//! over many experts) still spreads over the cores by strips.

use rayon::prelude::*;

use super::simd::widest;
use crate::elem::Elem;
use crate::launch::{product, KernelResult, Launch};

/// Columns per task: a strip of W rows stays in L1 across the tile's rows.
const STRIP: usize = 256;

pub(crate) fn grouped<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let (n, k) = (l.count(0)?, l.count(1)?);
    let (tile0, tile_end) = (l.u32(2)? as usize, l.u32(3)? as usize);
    // fp8's folded per-tensor scales (the optional fifth scalar).
    let scale = if l.scalar_count() > 4 { l.f32(4)? } else { 1.0 };
    if tile0 > tile_end {
        return Err(format!("tiles {tile0}..{tile_end} run backwards"));
    }
    let tiles = l.input::<u32>(2, product(&[tile_end, 3])?)?;
    let tiles: Vec<[usize; 3]> = tiles[tile0 * 3..]
        .chunks_exact(3)
        .map(|t| [t[0] as usize, t[1] as usize, t[2] as usize])
        .filter(|t| t[2] > 0)
        .collect();
    let experts = tiles.iter().map(|t| t[0] + 1).max().unwrap_or(0);
    let rows = tiles.iter().map(|t| t[1] + t[2]).max().unwrap_or(0);
    let a = l.input::<T>(0, product(&[rows, k])?)?;
    let w = l.input::<T>(1, product(&[experts, k, n])?)?;
    let strips = n.div_ceil(STRIP);
    let tasks: Vec<(usize, usize)> = (0..tiles.len())
        .flat_map(|t| (0..strips).map(move |s| (t, s)))
        .collect();
    let parts: Vec<Vec<f32>> = tasks
        .par_iter()
        .map_init(
            || vec![0f32; STRIP],
            |wbuf, &(t, s)| {
                widest(
                    #[inline(always)]
                    || {
                        let [e, r0, m] = tiles[t];
                        let (j0, width) = (s * STRIP, STRIP.min(n - s * STRIP));
                        let mut arows = vec![0f32; m * k];
                        T::load(&a[r0 * k..][..m * k], &mut arows);
                        let mut acc = vec![0f32; m * width];
                        for p in 0..k {
                            let wrow = T::row(&w[(e * k + p) * n + j0..][..width], wbuf);
                            for (r, out) in acc.chunks_exact_mut(width).enumerate() {
                                let av = arows[r * k + p];
                                for (o, &wv) in out.iter_mut().zip(wrow) {
                                    *o += av * wv;
                                }
                            }
                        }
                        acc
                    },
                )
            },
        )
        .collect();
    let c = l.output::<T>(3, product(&[rows, n])?)?;
    for (&(t, s), acc) in tasks.iter().zip(&parts) {
        let [_, r0, _] = tiles[t];
        let (j0, width) = (s * STRIP, STRIP.min(n - s * STRIP));
        for (r, row) in acc.chunks_exact(width).enumerate() {
            super::gemm::store(row, scale, &mut c[(r0 + r) * n + j0..][..width]);
        }
    }
    Ok(())
}
