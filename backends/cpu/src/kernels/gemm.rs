//! C = A·B, row-major, M×K times K×N, accumulated in f32, stored as T.
//!
//! - `naive`: the CPU twin of the one-thread-per-output GPU kernel: vector lanes play the
//!   threads of a warp, so each row of C is swept as C[i,:] += A[i,k]·B[k,:]. No blocking.
//! - `tiled`: BLIS-style. B is packed once into NR-wide column panels, each task packs its
//!   MC rows of A into MR-high strips, and an MR×NR register-blocked micro-kernel runs over
//!   KC-deep slices (B's slice stays in L1, A's block in L2). The micro-kernel is written
//!   with AVX-512 and AVX2+FMA intrinsics (plus a portable one) and picked at run time, so
//!   one binary runs everywhere. bf16 on a CPU with AVX512_BF16 runs `gemm_bf16`'s
//!   `vdpbf16ps` kernel instead.
//! - `vendor`: the `gemm` crate, the CPU's "vendor library" ceiling.

use rayon::prelude::*;

use super::simd::widest;
use crate::elem::Elem;
use crate::launch::{product, KernelResult, Launch};

struct Problem<'a, T> {
    a: &'a [T],
    b: &'a [T],
    c: &'a mut [T],
    m: usize,
    n: usize,
    k: usize,
    /// fp8's folded per-tensor scales (the optional fourth scalar); 1 otherwise.
    scale: f32,
}

fn problem<'a, T: Elem>(l: &mut Launch<'a>) -> Result<Problem<'a, T>, String> {
    let (m, n, k) = (l.count(0)?, l.count(1)?, l.count(2)?);
    Ok(Problem {
        a: l.input(0, product(&[m, k])?)?,
        b: l.input(1, product(&[k, n])?)?,
        c: l.output(2, product(&[m, n])?)?,
        m,
        n,
        k,
        scale: if l.scalar_count() > 3 { l.f32(3)? } else { 1.0 },
    })
}

/// Rounds f32 sums into C after multiplying by `scale` (a no-op but for fp8).
pub(super) fn store<T: Elem>(acc: &[f32], scale: f32, dst: &mut [T]) {
    if scale == 1.0 {
        return T::store(acc, dst);
    }
    let mut scaled = [0f32; 256];
    for (s, d) in acc.chunks(256).zip(dst.chunks_mut(256)) {
        for (o, v) in scaled.iter_mut().zip(s) {
            *o = v * scale;
        }
        T::store(&scaled[..s.len()], d);
    }
}

/// gemm_naive(A, B, C; M, N, K)
pub(crate) fn naive<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let Problem {
        a,
        b,
        c,
        n,
        k,
        scale,
        ..
    } = problem::<T>(l)?;
    c.par_chunks_mut(n).enumerate().for_each_init(
        || (vec![0f32; n], vec![0f32; n]),
        |(acc, scratch), (i, c_row)| {
            acc.fill(0.0);
            for p in 0..k {
                let a_ip = a[i * k + p].to_f32();
                let b_row = T::row(&b[p * n..(p + 1) * n], scratch);
                for (acc, b) in acc.iter_mut().zip(b_row) {
                    *acc += a_ip * b;
                }
            }
            store(acc, scale, c_row);
        },
    );
    Ok(())
}

/// Columns of C per task in `small_m`: its M×SMALL_M_COLUMNS accumulators (16 KiB at
/// M = 16) stay in L1 while the task streams its strip of B once.
pub(super) const SMALL_M_COLUMNS: usize = 256;
/// Rows of B folded into each pass over the accumulators: eight FMAs per load and store of
/// an accumulator, so M = 16 is bound by arithmetic, not by L1 traffic.
pub(super) const SMALL_M_DEPTH: usize = 8;

/// gemm_small_m(A, B, C; M, N, K): decode-sized M (1 to 16). Each task owns a strip of
/// columns, keeps every row of C for it in f32 and reads its strip of B once, eight rows
/// at a time (contiguous, so the prefetcher streams it): the time tracks the bytes of B.
///
/// In f32 from three rows up, the BLIS `tiled` path is faster here (its micro-kernel has
/// FMA intrinsics, this loop is portable): measured 3.9 against 8.2 ms at 16×4096×4096, 3.8
/// against 2.8 ms at one row. Half types always take this path (`tiled` widens B on every
/// pack: 26 against 9 ms at 16 rows).
pub(crate) fn small_m<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    if size_of::<T>() == size_of::<f32>() && l.count(0)? > 2 {
        return tiled::<T>(l);
    }
    let Problem {
        a,
        b,
        c,
        m,
        n,
        k,
        scale,
    } = problem::<T>(l)?;
    let strips = n.div_ceil(SMALL_M_COLUMNS);
    let a: Vec<f32> = a.iter().map(|x| x.to_f32()).collect();
    let done: Vec<(usize, usize, Vec<f32>)> = (0..strips)
        .into_par_iter()
        .map_init(
            || vec![0f32; SMALL_M_DEPTH * SMALL_M_COLUMNS],
            |scratch, strip| {
                let j0 = strip * SMALL_M_COLUMNS;
                let width = SMALL_M_COLUMNS.min(n - j0);
                let acc = widest(
                    #[inline(always)]
                    || small_m_strip(&a, b, (m, n, k), j0, width, scratch),
                );
                (j0, width, acc)
            },
        )
        .collect();
    for (j0, width, acc) in done {
        for (i, row) in acc.chunks_exact(width).enumerate() {
            store(row, scale, &mut c[i * n + j0..i * n + j0 + width]);
        }
    }
    Ok(())
}

/// Columns [j0, j0 + width) of C for every row: B's strip read eight rows at a time.
#[inline(always)]
fn small_m_strip<T: Elem>(
    a: &[f32],
    b: &[T],
    (m, n, k): (usize, usize, usize),
    j0: usize,
    width: usize,
    scratch: &mut [f32],
) -> Vec<f32> {
    let mut acc = vec![0f32; m * width];
    for p0 in (0..k).step_by(SMALL_M_DEPTH) {
        let depth = SMALL_M_DEPTH.min(k - p0);
        let mut rows: [&[f32]; SMALL_M_DEPTH] = [&[]; SMALL_M_DEPTH];
        for (q, (r, s)) in rows
            .iter_mut()
            .zip(scratch.chunks_exact_mut(SMALL_M_COLUMNS))
            .take(depth)
            .enumerate()
        {
            let at = (p0 + q) * n + j0;
            *r = T::row(&b[at..at + width], &mut s[..width]);
        }
        for (i, acc_row) in acc.chunks_exact_mut(width).enumerate() {
            let a_i = &a[i * k + p0..i * k + p0 + depth];
            accumulate(acc_row, a_i, &rows[..depth]);
        }
    }
    acc
}

/// acc += Σ_q a[q]·rows[q], all of width acc.len(); a full depth unrolled so the column
/// loop vectorises with eight FMAs per accumulator. Inlined, so it takes its caller's
/// vector width (see `simd`).
#[inline(always)]
pub(super) fn accumulate(acc: &mut [f32], a: &[f32], rows: &[&[f32]]) {
    let w = acc.len();
    if let ([a0, a1, a2, a3, a4, a5, a6, a7], [r0, r1, r2, r3, r4, r5, r6, r7]) = (a, rows) {
        let (r0, r1, r2, r3) = (&r0[..w], &r1[..w], &r2[..w], &r3[..w]);
        let (r4, r5, r6, r7) = (&r4[..w], &r5[..w], &r6[..w], &r7[..w]);
        for c in 0..w {
            acc[c] += a0 * r0[c]
                + a1 * r1[c]
                + a2 * r2[c]
                + a3 * r3[c]
                + a4 * r4[c]
                + a5 * r5[c]
                + a6 * r6[c]
                + a7 * r7[c];
        }
        return;
    }
    for (&a_q, row) in a.iter().zip(rows) {
        for (acc, b) in acc.iter_mut().zip(&row[..w]) {
            *acc += a_q * b;
        }
    }
}

const MC: usize = 64; // rows of C per task
const KC: usize = 256; // depth of one micro-kernel pass
const PANELS_PER_TASK: usize = 8; // NR-wide column panels per task

/// out[MR×NR, row stride ld] += a[kc×MR] · b[kc×NR]; A packed k-major, B rows `ldb` apart
/// (NR when packed, N when read in place).
type MicroKernel =
    unsafe fn(kc: usize, a: *const f32, b: *const f32, ldb: usize, out: *mut f32, ld: usize);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// 8×32: sixteen zmm accumulators, two B loads and eight broadcasts per k.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn micro_8x32(
        kc: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        out: *mut f32,
        ld: usize,
    ) {
        // SAFETY: the caller passes packed panels of kc×8 and kc×32 floats and an 8×32
        // window of `out` with row stride ld.
        unsafe {
            let mut c = [[_mm512_setzero_ps(); 2]; 8];
            for p in 0..kc {
                let b0 = _mm512_loadu_ps(b.add(p * ldb));
                let b1 = _mm512_loadu_ps(b.add(p * ldb + 16));
                for (i, row) in c.iter_mut().enumerate() {
                    let ai = _mm512_set1_ps(*a.add(p * 8 + i));
                    row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
                    row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
                }
            }
            for (i, row) in c.iter().enumerate() {
                let o = out.add(i * ld);
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), row[0]));
                _mm512_storeu_ps(o.add(16), _mm512_add_ps(_mm512_loadu_ps(o.add(16)), row[1]));
            }
        }
    }

    /// 6×16: twelve ymm accumulators.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn micro_6x16(
        kc: usize,
        a: *const f32,
        b: *const f32,
        ldb: usize,
        out: *mut f32,
        ld: usize,
    ) {
        // SAFETY: as above, with 6×16 tiles.
        unsafe {
            let mut c = [[_mm256_setzero_ps(); 2]; 6];
            for p in 0..kc {
                let b0 = _mm256_loadu_ps(b.add(p * ldb));
                let b1 = _mm256_loadu_ps(b.add(p * ldb + 8));
                for (i, row) in c.iter_mut().enumerate() {
                    let ai = _mm256_set1_ps(*a.add(p * 6 + i));
                    row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
                    row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
                }
            }
            for (i, row) in c.iter().enumerate() {
                let o = out.add(i * ld);
                _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), row[0]));
                _mm256_storeu_ps(o.add(8), _mm256_add_ps(_mm256_loadu_ps(o.add(8)), row[1]));
            }
        }
    }
}

/// 4×8 in plain Rust, for CPUs without AVX2.
unsafe fn micro_portable(
    kc: usize,
    a: *const f32,
    b: *const f32,
    ldb: usize,
    out: *mut f32,
    ld: usize,
) {
    let mut c = [[0f32; 8]; 4];
    for p in 0..kc {
        // SAFETY: as for the x86 kernels, with 4×8 tiles: A holds kc×4 floats, and row p
        // of B holds 8 floats at p·ldb.
        let (av, bv) = unsafe {
            (
                std::slice::from_raw_parts(a.add(p * 4), 4),
                std::slice::from_raw_parts(b.add(p * ldb), 8),
            )
        };
        for (row, &ai) in c.iter_mut().zip(av) {
            for (x, &bj) in row.iter_mut().zip(bv) {
                *x += ai * bj;
            }
        }
    }
    for (i, row) in c.iter().enumerate() {
        // SAFETY: the caller passes a 4×8 window of `out` with row stride ld.
        let o = unsafe { std::slice::from_raw_parts_mut(out.add(i * ld), 8) };
        o.iter_mut().zip(row).for_each(|(o, x)| *o += x);
    }
}

/// gemm_tiled(A, B, C; M, N, K)
pub(crate) fn tiled<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let p = problem::<T>(l)?;
    // bf16 on AVX512_BF16: pairs of bf16 products into f32, from bf16 as stored.
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<half::bf16>()
        && super::peak::has_bf16_dot()
    {
        let Problem {
            a, b, c, m, n, k, ..
        } = p;
        let (a, b) = (bytemuck::cast_slice(a), bytemuck::cast_slice(b));
        super::gemm_bf16::tiled(a, b, bytemuck::cast_slice_mut(c), m, n, k);
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            tiled_with::<T, 8, 32>(p, x86::micro_8x32);
            return Ok(());
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            tiled_with::<T, 6, 16>(p, x86::micro_6x16);
            return Ok(());
        }
    }
    tiled_with::<T, 4, 8>(p, micro_portable);
    Ok(())
}

/// A raw pointer to C that tasks write through; each task owns a disjoint rectangle.
#[derive(Clone, Copy)]
struct SharedOut<T>(*mut T);
// SAFETY: tasks write disjoint elements only (see `tiled_with`).
unsafe impl<T> Send for SharedOut<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// `len` elements from `offset`. Safety: the range lies inside C and no other task
    /// touches it.
    unsafe fn slice<'a>(self, offset: usize, len: usize) -> &'a mut [T] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

fn tiled_with<T: Elem, const MR: usize, const NR: usize>(p: Problem<'_, T>, micro: MicroKernel) {
    let Problem {
        a,
        b,
        c,
        m,
        n,
        k,
        scale,
    } = p;
    let panels = n.div_ceil(NR);

    // For a few rows of f32, packing B would cost more than the product: the micro-kernel
    // reads B's rows in place (stride n) for every full panel.
    let direct_b = if m <= 2 * MR { T::as_f32(b) } else { None };
    let full_panels = n / NR;

    // B as [panel][k][NR], zero-padded past column n (when reading in place: only the
    // last, partial panel).
    let first_packed = if direct_b.is_some() { full_panels } else { 0 };
    let mut packed_b = vec![0f32; (panels - first_packed) * k * NR];
    packed_b
        .par_chunks_mut(k * NR)
        .enumerate()
        .for_each(|(p, panel)| {
            let j0 = (first_packed + p) * NR;
            let width = NR.min(n - j0);
            for (kk, dst) in panel.chunks_exact_mut(NR).enumerate() {
                T::load(&b[kk * n + j0..][..width], &mut dst[..width]);
            }
        });

    let row_blocks = m.div_ceil(MC);
    let col_blocks = panels.div_ceil(PANELS_PER_TASK);
    let out = SharedOut(c.as_mut_ptr());
    (0..row_blocks * col_blocks).into_par_iter().for_each_init(
        || (Vec::new(), Vec::new(), vec![0f32; k]),
        |(packed_a, acc, row), task| {
            let (rb, cb) = (task / col_blocks, task % col_blocks);
            let (i0, rows) = (rb * MC, MC.min(m - rb * MC));
            let strips = rows.div_ceil(MR);
            let jp0 = cb * PANELS_PER_TASK;
            let task_panels = PANELS_PER_TASK.min(panels - jp0);

            // A rows as [strip][k][MR], zero-padded past row m.
            packed_a.clear();
            packed_a.resize(strips * k * MR, 0.0);
            for r in 0..rows {
                let (s, lane) = (r / MR, r % MR);
                T::load(&a[(i0 + r) * k..][..k], row);
                let strip = &mut packed_a[s * k * MR..][..k * MR];
                for (kk, v) in row.iter().enumerate() {
                    strip[kk * MR + lane] = *v;
                }
            }

            // BLIS loop order: a KC-deep slice of one B panel stays in L1 while every
            // A strip of the task passes over it.
            let ld = task_panels * NR;
            acc.clear();
            acc.resize(strips * MR * ld, 0.0);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                for jp in 0..task_panels {
                    let panel = jp0 + jp;
                    let (bp, ldb) = match direct_b {
                        Some(b) if panel < full_panels => (&b[pc * n + panel * NR..], n),
                        _ => (&packed_b[((panel - first_packed) * k + pc) * NR..], NR),
                    };
                    for s in 0..strips {
                        let ap = &packed_a[(s * k + pc) * MR..][..kc * MR];
                        let window = &mut acc[s * MR * ld + jp * NR..][..(MR - 1) * ld + NR];
                        // SAFETY: `micro` was chosen for features detected at run time;
                        // ap holds kc×MR floats, bp has kc rows of NR floats `ldb` apart
                        // (a full panel of B in place, or a packed one), and `window` holds
                        // an MR×NR tile with row stride ld.
                        unsafe {
                            micro(kc, ap.as_ptr(), bp.as_ptr(), ldb, window.as_mut_ptr(), ld)
                        };
                    }
                }
            }

            let (j0, width) = (jp0 * NR, (task_panels * NR).min(n - jp0 * NR));
            for r in 0..rows {
                // SAFETY: rows i0..i0+rows and columns j0..j0+width of C belong to this
                // task alone, and lie inside C (m×n).
                let dst = unsafe { out.slice((i0 + r) * n + j0, width) };
                store(&acc[r * ld..][..width], scale, dst);
            }
        },
    );
}

/// gemm_vendor(A, B, C; M, N, K) through the `gemm` crate. f32 goes straight in. Half
/// types are widened to f32 around an f32 product, inside the timed call: the crate lacks
/// bf16, and its f16 path for M = 1 accumulates in f16 (errors ~10× an f32 accumulation,
/// caught by conformance), which would break the f32-accumulate contract.
pub(crate) fn vendor<T: Elem>(l: &mut Launch<'_>) -> KernelResult {
    let Problem {
        a,
        b,
        c,
        m,
        n,
        k,
        scale,
    } = problem::<T>(l)?;
    if let (Some(a), Some(b)) = (T::as_f32(a), T::as_f32(b)) {
        let c: &mut [f32] = bytemuck::cast_slice_mut(c);
        vendor_f32(a, b, c, m, n, k);
        return Ok(());
    }
    let widen = |x: &[T]| {
        let mut v = vec![0f32; x.len()];
        v.par_chunks_mut(1 << 16)
            .zip(x.par_chunks(1 << 16))
            .for_each(|(d, s)| T::load(s, d));
        v
    };
    let (a32, b32) = (widen(a), widen(b));
    let mut c32 = vec![0f32; m * n];
    vendor_f32(&a32, &b32, &mut c32, m, n, k);
    c.par_chunks_mut(1 << 16)
        .zip(c32.par_chunks(1 << 16))
        .for_each(|(d, s)| store(s, scale, d));
    Ok(())
}

fn vendor_f32(a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    // SAFETY: the slices hold m·k, k·n and m·n elements (checked in `problem`, or sized so
    // by the caller) in row-major order: row stride = columns, column stride = 1.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(rayon::current_num_threads()),
        )
    };
}
