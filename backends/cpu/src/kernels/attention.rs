//! Attention kernels. Layouts (row-major): prefill Q/O [B,H,S,D], K/V [B,Hkv,S,D], scores
//! [B,H,S,S] f32; decode q/o [B,H,D], K/V [B,Hkv,L,D], scores [B,H,L] f32, split partials
//! [B,H,splits,D+2] f32 holding (running max, running sum, unnormalised output). Query head
//! h reads KV head h / (H / Hkv). Everything is computed in f32.

use rayon::prelude::*;

use super::dot;
use crate::elem::Elem;
use crate::launch::{product, KernelResult, Launch};

#[derive(Clone, Copy)]
struct Heads {
    b: usize,
    h: usize,
    hkv: usize,
    /// Sequence length (prefill) or KV length (decode).
    s: usize,
    d: usize,
}

impl Heads {
    fn read(l: &Launch<'_>) -> Result<Self, String> {
        let heads = Heads {
            b: l.count(0)?,
            h: l.count(1)?,
            hkv: l.count(2)?,
            s: l.count(3)?,
            d: l.count(4)?,
        };
        if !heads.h.is_multiple_of(heads.hkv) {
            return Err(format!(
                "query heads ({}) must be a multiple of KV heads ({})",
                heads.h, heads.hkv
            ));
        }
        Ok(heads)
    }

    /// Elements of a [B, heads, S, D] tensor.
    fn seq(&self, heads: usize) -> Result<usize, String> {
        product(&[self.b, heads, self.s, self.d])
    }

    /// Offset of KV head row 0 for query head `bh` (= b·H + h).
    fn kv_base(&self, bh: usize) -> usize {
        let (bb, hh) = (bh / self.h, bh % self.h);
        (bb * self.hkv + hh / (self.h / self.hkv)) * self.s * self.d
    }
}

fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

/// attn_prefill_scores(Q, K, S; B, H, Hkv, S, D, causal, scale)
pub(crate) fn prefill_scores<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let x = Heads::read(l)?;
    let (causal, scale) = (l.u32(5)? != 0, l.f32(6)?);
    let q = l.input::<T>(0, x.seq(x.h)?)?;
    let k = l.input::<T>(1, x.seq(x.hkv)?)?;
    let scores = l.output::<f32>(2, product(&[x.b, x.h, x.s, x.s])?)?;
    scores.par_chunks_mut(x.s).enumerate().for_each_init(
        || (vec![0f32; x.d], vec![0f32; x.d]),
        |(qf, kf), (row, out)| {
            let (bh, i) = (row / x.s, row % x.s);
            T::load(&q[row * x.d..][..x.d], qf);
            let kv = x.kv_base(bh);
            for (j, o) in out.iter_mut().enumerate() {
                *o = if causal && j > i {
                    f32::NEG_INFINITY
                } else {
                    T::load(&k[kv + j * x.d..][..x.d], kf);
                    dot(qf, kf) * scale
                };
            }
        },
    );
    Ok(())
}

/// softmax_rows(X; rows, cols), in place, two passes (max, then exp and sum).
pub(crate) fn softmax_rows(l: &mut Launch<'_>) -> KernelResult {
    let (rows, cols) = (l.count(0)?, l.count(1)?);
    let x = l.output::<f32>(0, product(&[rows, cols])?)?;
    x.par_chunks_mut(cols).for_each(|row| {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if max == f32::NEG_INFINITY {
            row.fill(0.0);
            return;
        }
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|v| *v *= inv);
    });
    Ok(())
}

/// attn_prefill_pv(P, V, O; B, H, Hkv, S, D)
pub(crate) fn prefill_pv<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let x = Heads::read(l)?;
    let p = l.input::<f32>(0, product(&[x.b, x.h, x.s, x.s])?)?;
    let v = l.input::<T>(1, x.seq(x.hkv)?)?;
    let o = l.output::<T>(2, x.seq(x.h)?)?;
    o.par_chunks_mut(x.d).enumerate().for_each_init(
        || (vec![0f32; x.d], vec![0f32; x.d]),
        |(acc, vf), (row, out)| {
            let kv = x.kv_base(row / x.s);
            acc.fill(0.0);
            for (j, &pj) in p[row * x.s..][..x.s].iter().enumerate() {
                if pj != 0.0 {
                    axpy(pj, T::row(&v[kv + j * x.d..][..x.d], vf), acc);
                }
            }
            T::store(acc, out);
        },
    );
    Ok(())
}

const QUERY_BLOCK: usize = 16;
const KEY_BLOCK: usize = 64;

/// attn_prefill_fused(Q, K, V, O; B, H, Hkv, S, D, causal, scale): one pass over the keys
/// with an online softmax (running max and sum, output rescaled as the max grows), in
/// blocks of queries and keys so K and V are converted once per block.
pub(crate) fn prefill_fused<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let x = Heads::read(l)?;
    let (causal, scale) = (l.u32(5)? != 0, l.f32(6)?);
    let q = l.input::<T>(0, x.seq(x.h)?)?;
    let k = l.input::<T>(1, x.seq(x.hkv)?)?;
    let v = l.input::<T>(2, x.seq(x.hkv)?)?;
    let o = l.output::<T>(3, x.seq(x.h)?)?;
    let d = x.d;
    o.par_chunks_mut(QUERY_BLOCK * d).enumerate().for_each_init(
        || {
            (
                vec![0f32; QUERY_BLOCK * d],
                vec![0f32; KEY_BLOCK * d],
                vec![0f32; KEY_BLOCK * d],
                vec![0f32; QUERY_BLOCK * d],
            )
        },
        |(qf, kf, vf, acc), (blk, out)| {
            // S need not be a multiple of QUERY_BLOCK, so a block may span two heads:
            // its rows are processed in runs that share a head.
            let rows = out.len() / d;
            let first = blk * QUERY_BLOCK;
            T::load(&q[first * d..][..rows * d], &mut qf[..rows * d]);
            acc[..rows * d].fill(0.0);
            let mut m = [f32::NEG_INFINITY; QUERY_BLOCK];
            let mut sum = [0f32; QUERY_BLOCK];
            let mut r = 0;
            while r < rows {
                // The run of rows in this block that share a head.
                let bh = (first + r) / x.s;
                let run = rows.min(r + (x.s - (first + r) % x.s));
                let kv = x.kv_base(bh);
                let last_query = (first + run - 1) % x.s;
                let keys = if causal { last_query + 1 } else { x.s };
                for j0 in (0..keys).step_by(KEY_BLOCK) {
                    let bc = KEY_BLOCK.min(keys - j0);
                    T::load(&k[kv + j0 * d..][..bc * d], &mut kf[..bc * d]);
                    T::load(&v[kv + j0 * d..][..bc * d], &mut vf[..bc * d]);
                    for rr in r..run {
                        let i = (first + rr) % x.s;
                        let limit = if causal {
                            bc.min((i + 1).saturating_sub(j0))
                        } else {
                            bc
                        };
                        if limit == 0 {
                            continue;
                        }
                        let qrow = &qf[rr * d..][..d];
                        let mut s = [0f32; KEY_BLOCK];
                        for (jj, sj) in s[..limit].iter_mut().enumerate() {
                            *sj = dot(qrow, &kf[jj * d..][..d]) * scale;
                        }
                        let block_max =
                            s[..limit].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let new_m = m[rr].max(block_max);
                        let correction = (m[rr] - new_m).exp();
                        let arow = &mut acc[rr * d..][..d];
                        arow.iter_mut().for_each(|a| *a *= correction);
                        let mut block_sum = 0.0;
                        for (jj, &sj) in s[..limit].iter().enumerate() {
                            let pj = (sj - new_m).exp();
                            block_sum += pj;
                            axpy(pj, &vf[jj * d..][..d], arow);
                        }
                        sum[rr] = sum[rr] * correction + block_sum;
                        m[rr] = new_m;
                    }
                }
                r = run;
            }
            for rr in 0..rows {
                let inv = 1.0 / sum[rr];
                acc[rr * d..][..d].iter_mut().for_each(|a| *a *= inv);
            }
            T::store(&acc[..rows * d], out);
        },
    );
    Ok(())
}

/// attn_decode_scores(q, K, S; B, H, Hkv, L, D, scale)
pub(crate) fn decode_scores<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let x = Heads::read(l)?;
    let scale = l.f32(5)?;
    let q = l.input::<T>(0, product(&[x.b, x.h, x.d])?)?;
    let k = l.input::<T>(1, x.seq(x.hkv)?)?;
    let scores = l.output::<f32>(2, product(&[x.b, x.h, x.s])?)?;
    scores.par_chunks_mut(x.s).enumerate().for_each_init(
        || (vec![0f32; x.d], vec![0f32; x.d]),
        |(qf, kf), (bh, out)| {
            T::load(&q[bh * x.d..][..x.d], qf);
            let kv = x.kv_base(bh);
            for (j, o) in out.iter_mut().enumerate() {
                *o = dot(qf, T::row(&k[kv + j * x.d..][..x.d], kf)) * scale;
            }
        },
    );
    Ok(())
}

/// attn_decode_pv(P, V, o; B, H, Hkv, L, D)
pub(crate) fn decode_pv<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let x = Heads::read(l)?;
    let p = l.input::<f32>(0, product(&[x.b, x.h, x.s])?)?;
    let v = l.input::<T>(1, x.seq(x.hkv)?)?;
    let o = l.output::<T>(2, product(&[x.b, x.h, x.d])?)?;
    o.par_chunks_mut(x.d).enumerate().for_each_init(
        || (vec![0f32; x.d], vec![0f32; x.d]),
        |(acc, vf), (bh, out)| {
            let kv = x.kv_base(bh);
            acc.fill(0.0);
            for (j, &pj) in p[bh * x.s..][..x.s].iter().enumerate() {
                axpy(pj, T::row(&v[kv + j * x.d..][..x.d], vf), acc);
            }
            T::store(acc, out);
        },
    );
    Ok(())
}

/// attn_decode_split(q, K, V, partial; B, H, Hkv, L, D, splits, scale): each task takes
/// one KV head's share of the cache and runs an online softmax for every query head of
/// its group, so K and V are read once per group, not once per query head.
pub(crate) fn decode_split<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let x = Heads::read(l)?;
    let (splits, scale) = (l.count(5)?, l.f32(6)?);
    let q = l.input::<T>(0, product(&[x.b, x.h, x.d])?)?;
    let k = l.input::<T>(1, x.seq(x.hkv)?)?;
    let v = l.input::<T>(2, x.seq(x.hkv)?)?;
    let partial = l.output::<f32>(3, product(&[x.b, x.h, splits, x.d + 2])?)?;
    let (d, group, share) = (x.d, x.h / x.hkv, x.s.div_ceil(splits));
    let results: Vec<Vec<f32>> = (0..x.b * x.hkv * splits)
        .into_par_iter()
        .map(|task| {
            let (bkv, split) = (task / splits, task % splits);
            let (bb, kvh) = (bkv / x.hkv, bkv % x.hkv);
            let (lo, hi) = ((split * share).min(x.s), ((split + 1) * share).min(x.s));
            let kv = bkv * x.s * d;
            let mut qf = vec![0f32; group * d];
            let first_head = bb * x.h + kvh * group;
            T::load(&q[first_head * d..][..group * d], &mut qf);
            // Per head: [max, sum, acc[d]].
            let mut state = vec![0f32; group * (d + 2)];
            state
                .chunks_exact_mut(d + 2)
                .for_each(|s| s[0] = f32::NEG_INFINITY);
            let (mut kf, mut vf) = (vec![0f32; d], vec![0f32; d]);
            for j in lo..hi {
                let krow = T::row(&k[kv + j * d..][..d], &mut kf);
                let vrow = T::row(&v[kv + j * d..][..d], &mut vf);
                for (g, st) in state.chunks_exact_mut(d + 2).enumerate() {
                    let s = dot(&qf[g * d..][..d], krow) * scale;
                    let new_m = st[0].max(s);
                    let correction = (st[0] - new_m).exp();
                    let p = (s - new_m).exp();
                    st[0] = new_m;
                    st[1] = st[1] * correction + p;
                    for (a, vv) in st[2..].iter_mut().zip(vrow) {
                        *a = *a * correction + p * vv;
                    }
                }
            }
            state
        })
        .collect();
    for (task, state) in results.iter().enumerate() {
        let (bkv, split) = (task / splits, task % splits);
        let (bb, kvh) = (bkv / x.hkv, bkv % x.hkv);
        for (g, st) in state.chunks_exact(d + 2).enumerate() {
            let head = bb * x.h + kvh * group + g;
            partial[(head * splits + split) * (d + 2)..][..d + 2].copy_from_slice(st);
        }
    }
    Ok(())
}

/// attn_decode_combine(partial, o; B, H, D, splits): merges the splits' softmax states.
pub(crate) fn decode_combine<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let (b, h, d, splits) = (l.count(0)?, l.count(1)?, l.count(2)?, l.count(3)?);
    let partial = l.input::<f32>(0, product(&[b, h, splits, d + 2])?)?;
    let o = l.output::<T>(1, product(&[b, h, d])?)?;
    o.par_chunks_mut(d).enumerate().for_each_init(
        || vec![0f32; d],
        |acc, (bh, out)| {
            let parts = &partial[bh * splits * (d + 2)..][..splits * (d + 2)];
            let max = parts
                .chunks_exact(d + 2)
                .filter(|p| p[1] > 0.0)
                .map(|p| p[0])
                .fold(f32::NEG_INFINITY, f32::max);
            acc.fill(0.0);
            let mut sum = 0.0;
            for p in parts.chunks_exact(d + 2).filter(|p| p[1] > 0.0) {
                let w = (p[0] - max).exp();
                sum += p[1] * w;
                axpy(w, &p[2..], acc);
            }
            let inv = 1.0 / sum;
            acc.iter_mut().for_each(|a| *a *= inv);
            T::store(acc, out);
        },
    );
    Ok(())
}
