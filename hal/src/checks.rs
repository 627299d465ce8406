//! Argument checks every backend makes, written once so their errors read the same.

use std::ops::Range;

use crate::{DeviceInfo, Dialect, Dims, Error, KernelSource, Result};

/// `offset..offset + len` inside a buffer of `size` bytes, or `InvalidArgument` naming
/// what was attempted (`write`, `copy source`, …). Overflow counts as outside.
pub fn range(backend: &str, size: u64, offset: u64, len: u64, what: &str) -> Result<Range<u64>> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(offset..end),
        _ => Err(Error::invalid(
            backend,
            format!("{what} of {len} bytes at offset {offset} is outside a buffer of {size} bytes"),
        )),
    }
}

/// Refuses a copy between overlapping ranges of one buffer.
pub fn no_overlap(backend: &str, same_buffer: bool, src: u64, dst: u64, len: u64) -> Result<()> {
    if same_buffer && src < dst.saturating_add(len) && dst < src.saturating_add(len) {
        return Err(Error::invalid(backend, "copy ranges overlap"));
    }
    Ok(())
}

/// Refuses zero-size allocations, and ones over the device's limit (`OutOfMemory`,
/// naming the limit).
pub fn alloc_size(backend: &str, bytes: u64, limit: u64, limit_name: &str) -> Result<()> {
    if bytes == 0 {
        return Err(Error::invalid(
            backend,
            "cannot allocate a zero-size buffer",
        ));
    }
    if bytes > limit {
        return Err(Error::out_of_memory(
            backend,
            format!("{bytes} bytes requested, {limit_name} is {limit} bytes"),
        ));
    }
    Ok(())
}

/// Refuses empty launches, work-groups larger than the device runs (in all and per
/// dimension) and grids beyond its per-dimension limits. A limit of 0 in `DeviceInfo` is
/// one the backend does not know, and is not checked.
pub fn launch(backend: &str, kernel: &str, dims: &Dims, info: &DeviceInfo) -> Result<()> {
    let fail = |m: String| Error::invalid(backend, format!("kernel `{kernel}`: {m}"));
    dims.validate().map_err(fail)?;
    let group: u64 = dims.threads.iter().map(|&t| u64::from(t)).product();
    let max = info.max_threads_per_group;
    if group > u64::from(max) {
        return Err(fail(format!(
            "{group} threads per group exceeds the device's {max}"
        )));
    }
    let axes = ["x", "y", "z"];
    for (i, axis) in axes.iter().enumerate() {
        let (t, tmax) = (dims.threads[i], info.max_group_size[i]);
        if tmax != 0 && t > tmax {
            return Err(fail(format!(
                "{t} threads in {axis} exceeds the device's {tmax} (threads {:?})",
                dims.threads
            )));
        }
        let (g, gmax) = (dims.groups[i], info.max_groups[i]);
        if gmax != 0 && g > gmax {
            return Err(fail(format!(
                "{g} groups in {axis} exceeds the device's {gmax} (groups {:?})",
                dims.groups
            )));
        }
    }
    Ok(())
}

/// The error for a kernel in a dialect the device does not take.
pub fn wrong_dialect(backend: &str, source: &KernelSource, accepted: &[Dialect]) -> Error {
    let takes: Vec<String> = accepted.iter().map(ToString::to_string).collect();
    Error::unsupported(
        backend,
        format!(
            "kernel `{}`: {backend} takes {}, not {}",
            source.name,
            takes.join(" or "),
            source.dialect
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_overlaps() {
        assert_eq!(range("x", 100, 10, 90, "read").unwrap(), 10..100);
        assert!(range("x", 100, 10, 91, "read").is_err());
        assert!(range("x", 100, u64::MAX, 2, "read").is_err());
        assert!(no_overlap("x", true, 0, 50, 50).is_ok());
        assert!(no_overlap("x", true, 0, 49, 50).is_err());
        assert!(no_overlap("x", false, 0, 0, 50).is_ok());
        assert!(alloc_size("x", 0, 10, "limit").is_err());
        assert!(matches!(
            alloc_size("x", 11, 10, "limit"),
            Err(Error::OutOfMemory { .. })
        ));
    }
}
