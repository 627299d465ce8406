//! Cases that test launches: index maths in 1, 2 and 3 dimensions, scalars bit-exact,
//! in-order visibility, and timing.

use std::time::{Duration, Instant};

use halbench_hal::{Arg, DType, Dims, Event, Kernel};

use super::hal_cases::invalid;
use super::{ensure, CaseResult, Context, Failure};
use crate::{data, executor};

/// Launches `test_index` and checks every word against the coordinates it encodes.
fn check_index(cx: &mut Context<'_>, dims: Dims) -> CaseResult {
    let size = |i: usize| (dims.groups[i] * dims.threads[i]) as usize;
    let (x, y, z) = (size(0), size(1), size(2));
    let n = x * y * z;
    let kernel = executor::compile(cx.device, "test_index", DType::F32, &[])?;
    let buffer = cx.device.alloc((n * 4) as u64)?;
    cx.device.write(&buffer, 0, &vec![0xFF; n * 4])?;
    cx.device.launch(&kernel, dims, &[Arg::Buffer(&buffer)])?;
    let mut out = vec![0u8; n * 4];
    cx.device.read(&buffer, 0, &mut out)?;
    cx.device.free(buffer)?;
    for (i, word) in out.chunks_exact(4).enumerate() {
        let got = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        let (gx, gy, gz) = (i % x, (i / x) % y, i / (x * y));
        let want = (gx | gy << 10 | gz << 20) as u32;
        ensure(got == want, || {
            format!("{dims:?}: word {i} is {got:#x}, expected ({gx},{gy},{gz}) = {want:#x}")
        })?;
    }
    Ok(())
}

pub(super) fn index_1d(cx: &mut Context<'_>) -> CaseResult {
    check_index(cx, Dims::linear(13, 32))
}

pub(super) fn index_2d(cx: &mut Context<'_>) -> CaseResult {
    check_index(
        cx,
        Dims {
            groups: [3, 5, 1],
            threads: [8, 4, 1],
        },
    )
}

pub(super) fn index_3d(cx: &mut Context<'_>) -> CaseResult {
    check_index(
        cx,
        Dims {
            groups: [2, 3, 4],
            threads: [4, 2, 2],
        },
    )
}

pub(super) fn zero_dims_refused(cx: &mut Context<'_>) -> CaseResult {
    let kernel = executor::compile(cx.device, "test_index", DType::F32, &[])?;
    let buffer = cx.device.alloc(64)?;
    let result = cx
        .device
        .launch(&kernel, Dims::linear(0, 1), &[Arg::Buffer(&buffer)]);
    cx.device.free(buffer)?;
    invalid(result, "launch with zero groups")
}

pub(super) fn scalars_bit_exact(cx: &mut Context<'_>) -> CaseResult {
    let kernel = executor::compile(cx.device, "test_scalars", DType::F32, &[])?;
    let buffer = cx.device.alloc(12)?;
    let cases = [
        (0xDEAD_BEEFu32, -123_456_789i32, -0.0f32),
        (u32::MAX, i32::MIN, f32::from_bits(1)),
        (0, i32::MAX, f32::MAX),
    ];
    for (u, i, f) in cases {
        cx.device.launch(
            &kernel,
            Dims::linear(1, 1),
            &[Arg::Buffer(&buffer), Arg::U32(u), Arg::I32(i), Arg::F32(f)],
        )?;
        let mut out = [0u8; 12];
        cx.device.read(&buffer, 0, &mut out)?;
        let words: Vec<u32> = out
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        ensure(words == [u, i as u32, f.to_bits()], || {
            format!(
                "scalars ({u:#x}, {i}, {:#x}) arrived as {words:x?}",
                f.to_bits()
            )
        })?;
    }
    cx.device.free(buffer)?;
    Ok(())
}

pub(super) fn in_order_visibility(cx: &mut Context<'_>) -> CaseResult {
    let n = 1 << 16;
    let data = data::random(DType::F32, n, 5);
    let copy = executor::compile(cx.device, "stream_copy", DType::F32, &[])?;
    let scale = executor::compile(cx.device, "stream_scale", DType::F32, &[])?;
    let bytes = (n * 4) as u64;
    let (a, b, c) = (
        cx.device.alloc(bytes)?,
        cx.device.alloc(bytes)?,
        cx.device.alloc(bytes)?,
    );
    cx.device.write(&a, 0, &data)?;
    let dims = Dims::linear(64, 256);
    // c = a, then b = 2·c: the second launch must see the first's writes, and the read
    // must see the second's, with no sync in between.
    cx.device.launch(
        &copy,
        dims,
        &[Arg::Buffer(&a), Arg::Buffer(&c), Arg::U32(n as u32)],
    )?;
    cx.device.launch(
        &scale,
        dims,
        &[
            Arg::Buffer(&c),
            Arg::Buffer(&b),
            Arg::U32(n as u32),
            Arg::F32(2.0),
        ],
    )?;
    let mut out = vec![0u8; n * 4];
    cx.device.read(&b, 0, &mut out)?;
    for buffer in [a, b, c] {
        cx.device.free(buffer)?;
    }
    for i in 0..n {
        let (got, want) = (
            data::get(DType::F32, &out, i),
            2.0 * data::get(DType::F32, &data, i),
        );
        ensure(got == want, || {
            format!("element {i}: {got} after copy and scale, expected {want}")
        })?;
    }
    Ok(())
}

/// Host time of `launches` triads, the fastest of five tries.
fn time_triads(
    cx: &mut Context<'_>,
    kernel: &Kernel,
    args: &[Arg<'_>],
    launches: u32,
) -> Result<Duration, Failure> {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        cx.device.sync()?;
        let start = Instant::now();
        for _ in 0..launches {
            cx.device.launch(kernel, Dims::linear(1024, 256), args)?;
        }
        cx.device.sync()?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

/// A sanity check of the timing path, not a performance test: the bounds are a factor of
/// four either way, wide enough for any shared machine.
pub(super) fn n_launches_take_n_times_one(cx: &mut Context<'_>) -> CaseResult {
    let n: u32 = 1 << 22;
    let kernel = executor::compile(cx.device, "stream_triad", DType::F32, &[])?;
    let bytes = u64::from(n) * 4;
    let buffers = [
        cx.device.alloc(bytes)?,
        cx.device.alloc(bytes)?,
        cx.device.alloc(bytes)?,
    ];
    let data = data::random(DType::F32, n as usize, 9);
    for b in &buffers {
        cx.device.write(b, 0, &data)?;
    }
    let args = [
        Arg::Buffer(&buffers[0]),
        Arg::Buffer(&buffers[1]),
        Arg::Buffer(&buffers[2]),
        Arg::U32(n),
        Arg::F32(0.4),
    ];
    let one = time_triads(cx, &kernel, &args, 1);
    let eight = time_triads(cx, &kernel, &args, 8);
    for b in buffers {
        cx.device.free(b)?;
    }
    let (one, eight) = (one?.as_secs_f64(), eight?.as_secs_f64());
    let ratio = eight / one;
    ensure((2.0..=32.0).contains(&ratio), || {
        format!("8 launches took {ratio:.2}× one launch ({eight:.6}s vs {one:.6}s)")
    })
}

pub(super) fn device_events(cx: &mut Context<'_>) -> CaseResult {
    if !cx.device.info().features.device_timers {
        return Err(Failure::Unsupported("the device has no timers".into()));
    }
    let n: u32 = 1 << 20;
    let kernel = executor::compile(cx.device, "stream_copy", DType::F32, &[])?;
    let (a, c) = (
        cx.device.alloc(u64::from(n) * 4)?,
        cx.device.alloc(u64::from(n) * 4)?,
    );
    let start = cx.device.record()?;
    cx.device.launch(
        &kernel,
        Dims::linear(1024, 256),
        &[Arg::Buffer(&a), Arg::Buffer(&c), Arg::U32(n)],
    )?;
    let end = cx.device.record()?;
    let elapsed = cx.device.elapsed(start, end);
    let forged = cx.device.elapsed(
        Event::from_raw(a.device(), u64::MAX),
        Event::from_raw(a.device(), u64::MAX - 1),
    );
    cx.device.free(a)?;
    cx.device.free(c)?;
    let elapsed = elapsed?;
    ensure(
        elapsed > Duration::ZERO && elapsed < Duration::from_secs(10),
        || format!("a 4 MiB copy took {elapsed:?} by the device's timers"),
    )?;
    invalid(forged, "elapsed of forged events")
}
