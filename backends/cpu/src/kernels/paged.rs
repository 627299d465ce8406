//! Decode attention over a paged KV cache (attention.paged): sequence b's key t is slot
//! t % P of page table[b·max_pages + t / P]; a page holds P slots of every KV head.
//! Table entries come from a device buffer: the K and V buffers must reach the highest
//! page the used entries name, or the launch is an error. The 8-bit cache (attention.kv8)
//! is the same walk over bytes, each row decoded once per KV head and scaled by its
//! (page, KV head)'s f32.

use rayon::prelude::*;

use super::dot;
use super::simd::widest;
use crate::elem::Elem;
use crate::launch::{product, KernelResult, Launch};

/// The scalars both kernels start with: B, H, Hkv, L, D, P, max_pages.
struct Paging {
    b: usize,
    h: usize,
    hkv: usize,
    l: usize,
    d: usize,
    page: usize,
    max_pages: usize,
}

impl Paging {
    fn read(l: &Launch<'_>) -> Result<Self, String> {
        let x = Paging {
            b: l.count(0)?,
            h: l.count(1)?,
            hkv: l.count(2)?,
            l: l.count(3)?,
            d: l.count(4)?,
            page: l.count(5)?,
            max_pages: l.count(6)?,
        };
        if !x.h.is_multiple_of(x.hkv) {
            return Err(format!(
                "query heads ({}) must be a multiple of KV heads ({})",
                x.h, x.hkv
            ));
        }
        Ok(x)
    }

    /// Sequence `bh / H`'s length, checked against L.
    fn len(&self, lens: &[u32], bh: usize) -> Result<usize, String> {
        let n = lens[bh / self.h] as usize;
        if n > self.l {
            return Err(format!(
                "sequence {} has {n} keys, more than L = {}",
                bh / self.h,
                self.l
            ));
        }
        Ok(n)
    }

    /// Pages the used table entries reach: the cache (and its scales) must hold them.
    fn pages(&self, table: &[u32], lens: &[u32]) -> usize {
        let mut pages = 0;
        for (b, &n) in lens.iter().enumerate() {
            let used = (n as usize).div_ceil(self.page).min(self.max_pages);
            for &p in &table[b * self.max_pages..][..used] {
                pages = pages.max(p as usize + 1);
            }
        }
        pages
    }

    /// Elements of K (or V) the used table entries reach.
    fn cache(&self, table: &[u32], lens: &[u32]) -> Result<usize, String> {
        product(&[self.pages(table, lens), self.hkv, self.page, self.d])
    }

    /// The (page, KV head) of key t for query head bh: its index in a per-page scale
    /// array `[pages][Hkv]`.
    fn page_head(&self, table: &[u32], bh: usize, t: usize) -> usize {
        let (b, kvh) = (bh / self.h, (bh % self.h) / (self.h / self.hkv));
        table[b * self.max_pages + t / self.page] as usize * self.hkv + kvh
    }

    /// Element offset of key t's row for query head bh.
    fn row(&self, table: &[u32], bh: usize, t: usize) -> usize {
        (self.page_head(table, bh, t) * self.page + t % self.page) * self.d
    }
}

/// attn_paged_scores(q, K, table, lens, S; B, H, Hkv, L, D, P, max_pages, scale)
pub(crate) fn scores<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let x = Paging::read(l)?;
    let scale = l.f32(7)?;
    let q = l.input::<T>(0, product(&[x.b, x.h, x.d])?)?;
    let table = l.input::<u32>(2, product(&[x.b, x.max_pages])?)?;
    let lens = l.input::<u32>(3, x.b)?;
    let k = l.input::<T>(1, x.cache(table, lens)?)?;
    let s = l.output::<f32>(4, product(&[x.b, x.h, x.l])?)?;
    s.par_chunks_mut(x.l).enumerate().try_for_each_init(
        || (vec![0f32; x.d], vec![0f32; x.d]),
        |(qf, kf), (bh, out)| {
            widest(
                #[inline(always)]
                || {
                    T::load(&q[bh * x.d..][..x.d], qf);
                    let len = x.len(lens, bh)?;
                    for (t, o) in out.iter_mut().enumerate() {
                        *o = if t < len {
                            let at = x.row(table, bh, t);
                            let kr = T::row(&k[at..][..x.d], kf);
                            dot(qf, kr) * scale
                        } else {
                            f32::NEG_INFINITY
                        };
                    }
                    Ok(())
                },
            )
        },
    )
}

/// attn_paged_pv(P, V, table, lens, o; B, H, Hkv, L, D, P, max_pages)
pub(crate) fn pv<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let x = Paging::read(l)?;
    let p = l.input::<f32>(0, product(&[x.b, x.h, x.l])?)?;
    let table = l.input::<u32>(2, product(&[x.b, x.max_pages])?)?;
    let lens = l.input::<u32>(3, x.b)?;
    let v = l.input::<T>(1, x.cache(table, lens)?)?;
    let o = l.output::<T>(4, product(&[x.b, x.h, x.d])?)?;
    o.par_chunks_mut(x.d).enumerate().try_for_each_init(
        || (vec![0f32; x.d], vec![0f32; x.d]),
        |(acc, vf), (bh, out)| {
            widest(
                #[inline(always)]
                || {
                    acc.fill(0.0);
                    for (t, &pt) in p[bh * x.l..][..x.len(lens, bh)?].iter().enumerate() {
                        let at = x.row(table, bh, t);
                        for (a, b) in acc.iter_mut().zip(T::row(&v[at..][..x.d], vf)) {
                            *a += pt * b;
                        }
                    }
                    T::store(acc, out);
                    Ok(())
                },
            )
        },
    )
}

/// Decodes a row of an 8-bit cache: int8, or e4m3 codes with `FP8` (NaN codes are never
/// stored). Branch-free, so LLVM vectorises it: an e4m3 exponent and mantissa move into an
/// f32's fields, and subnormals are m · 2⁻⁹.
#[inline(always)]
fn decode_row<const FP8: bool>(bytes: &[u8], out: &mut [f32]) {
    for (o, &b) in out.iter_mut().zip(bytes) {
        *o = if FP8 {
            // i32 rather than u32: x86 converts signed integers to floats in SIMD.
            let (e, m) = (i32::from(b >> 3) & 15, i32::from(b) & 7);
            let normal = f32::from_bits((((e + 120) << 23) | (m << 20)) as u32);
            let v = if e == 0 {
                m as f32 * (1.0 / 512.0)
            } else {
                normal
            };
            f32::from_bits(v.to_bits() | (u32::from(b & 0x80) << 24))
        } else {
            f32::from(b as i8)
        };
    }
}

/// The query heads sharing KV head `kvh` of sequence b are rows `b·H + kvh·G ..` (G =
/// H / Hkv) of q, S and o: both kernels take one (b, kvh) per task, decode each cache row
/// once, and use it for all G heads.
impl Paging {
    fn group(&self) -> usize {
        self.h / self.hkv
    }
}

/// attn_kv8_scores(q, K8, Ks, table, lens, S; B, H, Hkv, L, D, P, max_pages, scale)
pub(crate) fn kv8_scores<T: Elem, const FP8: bool>(l: &mut Launch<'_>) -> KernelResult {
    let x = Paging::read(l)?;
    let scale = l.f32(7)?;
    let q = l.input::<T>(0, product(&[x.b, x.h, x.d])?)?;
    let table = l.input::<u32>(3, product(&[x.b, x.max_pages])?)?;
    let lens = l.input::<u32>(4, x.b)?;
    let k = l.input::<u8>(1, x.cache(table, lens)?)?;
    let ks = l.input::<f32>(2, product(&[x.pages(table, lens), x.hkv])?)?;
    let s = l.output::<f32>(5, product(&[x.b, x.h, x.l])?)?;
    let (g, d) = (x.group(), x.d);
    s.par_chunks_mut(g * x.l).enumerate().try_for_each_init(
        || (vec![0f32; g * d], vec![0f32; d]),
        |(qf, kf), (task, out)| {
            widest(
                #[inline(always)]
                || {
                    let bh0 = task * g;
                    T::load(&q[bh0 * d..][..g * d], qf);
                    let len = x.len(lens, bh0)?;
                    out.fill(f32::NEG_INFINITY);
                    for t in 0..len {
                        decode_row::<FP8>(&k[x.row(table, bh0, t)..][..d], kf);
                        let sc = ks[x.page_head(table, bh0, t)] * scale;
                        for (j, qj) in qf.chunks_exact(d).enumerate() {
                            out[j * x.l + t] = dot(qj, kf) * sc;
                        }
                    }
                    Ok(())
                },
            )
        },
    )
}

/// attn_kv8_pv(P, V8, Vs, table, lens, o; B, H, Hkv, L, D, P, max_pages)
pub(crate) fn kv8_pv<T: Elem, const FP8: bool>(l: &mut Launch<'_>) -> KernelResult {
    let x = Paging::read(l)?;
    let p = l.input::<f32>(0, product(&[x.b, x.h, x.l])?)?;
    let table = l.input::<u32>(3, product(&[x.b, x.max_pages])?)?;
    let lens = l.input::<u32>(4, x.b)?;
    let v = l.input::<u8>(1, x.cache(table, lens)?)?;
    let vs = l.input::<f32>(2, product(&[x.pages(table, lens), x.hkv])?)?;
    let o = l.output::<T>(5, product(&[x.b, x.h, x.d])?)?;
    let (g, d) = (x.group(), x.d);
    o.par_chunks_mut(g * d).enumerate().try_for_each_init(
        || (vec![0f32; g * d], vec![0f32; d]),
        |(acc, vf), (task, out)| {
            widest(
                #[inline(always)]
                || {
                    let bh0 = task * g;
                    acc.fill(0.0);
                    for t in 0..x.len(lens, bh0)? {
                        decode_row::<FP8>(&v[x.row(table, bh0, t)..][..d], vf);
                        let sc = vs[x.page_head(table, bh0, t)];
                        for (j, aj) in acc.chunks_exact_mut(d).enumerate() {
                            let w = p[(bh0 + j) * x.l + t] * sc;
                            for (a, &b) in aj.iter_mut().zip(vf.iter()) {
                                *a += w * b;
                            }
                        }
                    }
                    T::store(acc, out);
                    Ok(())
                },
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use float8::F8E4M3;

    use super::decode_row;

    #[test]
    fn the_row_decoders_match_int8_and_the_e4m3_crate_for_every_stored_code() {
        let codes: Vec<u8> = (0..=255u8).filter(|b| b & 0x7f != 0x7f).collect();
        let mut out = vec![0f32; codes.len()];
        decode_row::<true>(&codes, &mut out);
        for (&b, &v) in codes.iter().zip(&out) {
            let want = F8E4M3::from_bits(b).to_f32();
            assert_eq!(v.to_bits(), want.to_bits(), "e4m3 code {b:#04x}");
        }
        decode_row::<false>(&codes, &mut out);
        for (&b, &v) in codes.iter().zip(&out) {
            assert_eq!(v, f32::from(b as i8));
        }
    }
}
