//! Decode attention over a paged KV cache (attention.paged): sequence b's key t is slot
//! t % P of page table[b·max_pages + t / P]; a page holds P slots of every KV head.
//! Table entries come from a device buffer: the K and V buffers must reach the highest
//! page the used entries name, or the launch is an error.

use rayon::prelude::*;

use super::dot;
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

    /// Elements of K (or V) the used table entries reach: the cache must hold them.
    fn cache(&self, table: &[u32], lens: &[u32]) -> Result<usize, String> {
        let mut pages = 0;
        for (b, &n) in lens.iter().enumerate() {
            let used = (n as usize).div_ceil(self.page).min(self.max_pages);
            for &p in &table[b * self.max_pages..][..used] {
                pages = pages.max(p as usize + 1);
            }
        }
        product(&[pages, self.hkv, self.page, self.d])
    }

    /// Element offset of key t's row for query head bh.
    fn row(&self, table: &[u32], bh: usize, t: usize) -> usize {
        let (b, kvh) = (bh / self.h, (bh % self.h) / (self.h / self.hkv));
        let page = table[b * self.max_pages + t / self.page] as usize;
        ((page * self.hkv + kvh) * self.page + t % self.page) * self.d
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
}
