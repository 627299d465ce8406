//! `tiled` GEMM for bf16 on CPUs with AVX512_BF16: `vdpbf16ps` multiplies pairs of bf16
//! and adds both products into an f32 lane, twice the multiply-adds of an f32 FMA per
//! instruction, from half the bytes. The loops are `tiled`'s (BLIS order, tasks of MC rows
//! by eight panels); what changes is the packing: K goes in pairs, so B is packed as
//! [panel][k/2][NR][2] and A as [strip][k/2][MR][2], both bf16 as stored (no widening), a
//! zero past an odd K.

use half::bf16;
use rayon::prelude::*;

const MR: usize = 8;
const NR: usize = 32;
const MC: usize = 64;
/// Pairs of K per micro-kernel pass: a 16 KiB slice of a B panel stays in L1.
const KCP: usize = 128;
const PANELS_PER_TASK: usize = 8;

/// 8×32: sixteen zmm accumulators; per pair of K, two B loads and eight broadcast pairs.
///
/// Safety: the CPU has AVX-512F and AVX512_BF16; `a` holds kc·MR pairs, `b` kc·NR pairs,
/// and `out` an MR×NR window with row stride `ld`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn micro_8x32(kc: usize, a: *const u16, b: *const u16, out: *mut f32, ld: usize) {
    use std::arch::x86_64::*;
    // SAFETY: as the caller guarantees; __m512i and __m512bh are the same 512 bits.
    unsafe {
        let mut c = [[_mm512_setzero_ps(); 2]; MR];
        for q in 0..kc {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(q * NR * 2).cast()));
            let b1: __m512bh =
                std::mem::transmute(_mm512_loadu_si512(b.add(q * NR * 2 + 32).cast()));
            for (i, row) in c.iter_mut().enumerate() {
                let pair = a.add((q * MR + i) * 2).cast::<i32>().read_unaligned();
                let ai: __m512bh = std::mem::transmute(_mm512_set1_epi32(pair));
                row[0] = _mm512_dpbf16_ps(row[0], ai, b0);
                row[1] = _mm512_dpbf16_ps(row[1], ai, b1);
            }
        }
        for (i, row) in c.iter().enumerate() {
            let o = out.add(i * ld);
            _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), row[0]));
            _mm512_storeu_ps(o.add(16), _mm512_add_ps(_mm512_loadu_ps(o.add(16)), row[1]));
        }
    }
}

/// A raw pointer to C that tasks write through; each task owns a disjoint rectangle.
#[derive(Clone, Copy)]
struct SharedOut(*mut bf16);
// SAFETY: tasks write disjoint elements only.
unsafe impl Send for SharedOut {}
// SAFETY: as above.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// Safety: the range lies inside C and no other task touches it.
    unsafe fn slice<'a>(self, offset: usize, len: usize) -> &'a mut [bf16] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

/// C = A·B for bf16 through `vdpbf16ps`. Only called where [`super::peak::has_bf16_dot`].
pub(super) fn tiled(a: &[bf16], b: &[bf16], c: &mut [bf16], m: usize, n: usize, k: usize) {
    let kp = k.div_ceil(2);
    let panels = n.div_ceil(NR);
    let mut packed_b = vec![0u16; panels * kp * NR * 2];
    packed_b
        .par_chunks_mut(kp * NR * 2)
        .enumerate()
        .for_each(|(p, panel)| {
            let (j0, width) = (p * NR, NR.min(n - p * NR));
            for kk in 0..k {
                let (q, h) = (kk / 2, kk % 2);
                for (j, v) in b[kk * n + j0..][..width].iter().enumerate() {
                    panel[(q * NR + j) * 2 + h] = v.to_bits();
                }
            }
        });

    let row_blocks = m.div_ceil(MC);
    let col_blocks = panels.div_ceil(PANELS_PER_TASK);
    let out = SharedOut(c.as_mut_ptr());
    (0..row_blocks * col_blocks).into_par_iter().for_each_init(
        || (Vec::new(), Vec::new()),
        |(packed_a, acc), task| {
            let (rb, cb) = (task / col_blocks, task % col_blocks);
            let (i0, rows) = (rb * MC, MC.min(m - rb * MC));
            let strips = rows.div_ceil(MR);
            let jp0 = cb * PANELS_PER_TASK;
            let task_panels = PANELS_PER_TASK.min(panels - jp0);

            packed_a.clear();
            packed_a.resize(strips * kp * MR * 2, 0u16);
            for r in 0..rows {
                let (s, lane) = (r / MR, r % MR);
                for (kk, v) in a[(i0 + r) * k..][..k].iter().enumerate() {
                    let (q, h) = (kk / 2, kk % 2);
                    packed_a[((s * kp + q) * MR + lane) * 2 + h] = v.to_bits();
                }
            }

            let ld = task_panels * NR;
            acc.clear();
            acc.resize(strips * MR * ld, 0f32);
            for q0 in (0..kp).step_by(KCP) {
                let kc = KCP.min(kp - q0);
                for jp in 0..task_panels {
                    let bp = &packed_b[((jp0 + jp) * kp + q0) * NR * 2..][..kc * NR * 2];
                    for s in 0..strips {
                        let ap = &packed_a[(s * kp + q0) * MR * 2..][..kc * MR * 2];
                        let window = &mut acc[s * MR * ld + jp * NR..][..(MR - 1) * ld + NR];
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: the caller checked the features; ap and bp hold kc pairs
                        // of MR and NR values, window an MR×NR tile with row stride ld.
                        unsafe {
                            micro_8x32(kc, ap.as_ptr(), bp.as_ptr(), window.as_mut_ptr(), ld)
                        };
                    }
                }
            }

            let (j0, width) = (jp0 * NR, (task_panels * NR).min(n - jp0 * NR));
            for r in 0..rows {
                // SAFETY: rows i0..i0+rows and columns j0..j0+width of C belong to this
                // task alone, and lie inside C (m×n).
                let dst = unsafe { out.slice((i0 + r) * n + j0, width) };
                for (d, &v) in dst.iter_mut().zip(&acc[r * ld..][..width]) {
                    *d = bf16::from_f32(v);
                }
            }
        },
    );
}
