//! Kernels the conformance suite uses to check a backend's plumbing.

use crate::launch::{KernelResult, Launch};

/// index(out): for every invocation of the launch, writes its global coordinates
/// `x | y << 10 | z << 20` at the linear position `(z·Y + y)·X + x`, where X, Y, Z are
/// the global sizes (groups × threads). A backend that mixes up axes, groups or threads
/// writes the wrong words.
pub(crate) fn index(l: &mut Launch<'_>) -> KernelResult {
    let d = l.dims;
    let size = |i: usize| (d.groups[i] * d.threads[i]) as usize;
    let (x, y, z) = (size(0), size(1), size(2));
    let out = l.output::<u32>(0, x * y * z)?;
    for gz in 0..z {
        for gy in 0..y {
            for gx in 0..x {
                out[(gz * y + gy) * x + gx] = (gx | gy << 10 | gz << 20) as u32;
            }
        }
    }
    Ok(())
}

/// scalars(out; u, i, f): out = [u, i as bits, f as bits], to prove scalars arrive
/// bit-exact.
pub(crate) fn scalars(l: &mut Launch<'_>) -> KernelResult {
    let (u, i, f) = (l.u32(0)?, l.i32(1)?, l.f32(2)?);
    let out = l.output::<u32>(0, 3)?;
    out.copy_from_slice(&[u, i as u32, f.to_bits()]);
    Ok(())
}
