//! Cases that test the HAL contract itself: memory, handles, bounds and compiles (launch
//! index maths, scalars, ordering and timing are in `launch_cases`), and the table of all
//! of them.

use halbench_hal::{Arg, Buffer, DType, Dims, Error, Kernel};

use super::launch_cases;
use super::{ensure, CaseResult, Context};
use crate::{data, executor, sources};

type CaseFn = fn(&mut Context<'_>) -> CaseResult;

pub(super) const CASES: &[(&str, CaseFn)] = &[
    ("discovery::info_matches_listing", info_matches_listing),
    ("memory::round_trip_odd_sizes", round_trip_odd_sizes),
    ("memory::offsets", offsets),
    ("memory::copy_between_and_within", copy_between_and_within),
    ("memory::pinned_round_trip", pinned_round_trip),
    ("memory::zero_size_refused", zero_size_refused),
    ("memory::beyond_device_memory", beyond_device_memory),
    ("memory::stats_track_live_buffers", stats_track_live_buffers),
    ("handles::use_after_free", use_after_free),
    ("handles::foreign_buffer_and_kernel", foreign_handles),
    ("handles::forged_kernel", forged_kernel),
    ("bounds::read_write_past_end", read_write_past_end),
    ("bounds::copy_past_end", copy_past_end),
    ("compile::error_carries_log", compile_error_carries_log),
    ("compile::repeat_hits_cache", compile_repeat_hits_cache),
    ("launch::index_1d", launch_cases::index_1d),
    ("launch::index_2d", launch_cases::index_2d),
    ("launch::index_3d", launch_cases::index_3d),
    ("launch::zero_dims_refused", launch_cases::zero_dims_refused),
    ("launch::scalars_bit_exact", launch_cases::scalars_bit_exact),
    (
        "queue::in_order_visibility",
        launch_cases::in_order_visibility,
    ),
    (
        "timing::n_launches_take_n_times_one",
        launch_cases::n_launches_take_n_times_one,
    ),
    ("timing::device_events", launch_cases::device_events),
];

pub(super) fn invalid<T>(result: Result<T, Error>, what: &str) -> CaseResult {
    match result {
        Err(Error::InvalidArgument { .. }) => Ok(()),
        Err(e) => Err(format!("{what}: expected InvalidArgument, got {e}").into()),
        Ok(_) => Err(format!("{what}: expected InvalidArgument, got success").into()),
    }
}

fn info_matches_listing(cx: &mut Context<'_>) -> CaseResult {
    let listed = cx.backend.devices()?;
    let info = cx.device.info();
    let entry = listed
        .iter()
        .find(|i| i.index == cx.index)
        .ok_or_else(|| format!("device {} not in the backend's listing", cx.index))?;
    ensure(
        entry.name == info.name && entry.backend == info.backend,
        || format!("listing says {entry:?}, device says {info:?}"),
    )?;
    ensure(info.backend == cx.backend.name(), || {
        "backend name mismatch".into()
    })?;
    ensure(!info.name.is_empty(), || "empty device name".into())?;
    ensure(info.memory_bytes > 0, || "memory_bytes is 0".into())?;
    ensure(info.compute_units > 0, || "compute_units is 0".into())?;
    ensure(!info.dialects.is_empty(), || "no dialects".into())
}

fn round_trip_odd_sizes(cx: &mut Context<'_>) -> CaseResult {
    for size in [1usize, 3, 17, 4093, 65_537, (1 << 20) + 13] {
        let data = data::random(DType::F32, size.div_ceil(4), size as u64);
        let data = &data[..size];
        let buffer = cx.device.alloc(size as u64)?;
        cx.device.write(&buffer, 0, data)?;
        let mut back = vec![0u8; size];
        cx.device.read(&buffer, 0, &mut back)?;
        cx.device.free(buffer)?;
        ensure(back == data, || {
            format!("round trip of {size} bytes changed the data")
        })?;
    }
    Ok(())
}

fn offsets(cx: &mut Context<'_>) -> CaseResult {
    let buffer = cx.device.alloc(1000)?;
    cx.device.write(&buffer, 0, &[0xAA; 1000])?;
    let data: Vec<u8> = (0..101u8).collect();
    cx.device.write(&buffer, 7, &data)?;
    let mut all = vec![0u8; 1000];
    cx.device.read(&buffer, 0, &mut all)?;
    let mut part = vec![0u8; 50];
    cx.device.read(&buffer, 57, &mut part)?;
    cx.device.free(buffer)?;
    ensure(all[..7].iter().all(|&b| b == 0xAA), || {
        "bytes before the offset changed".into()
    })?;
    ensure(all[7..108] == data[..], || "data at offset 7 wrong".into())?;
    ensure(all[108..].iter().all(|&b| b == 0xAA), || {
        "bytes after the range changed".into()
    })?;
    ensure(part[..] == data[50..100], || {
        "read at offset 57 wrong".into()
    })
}

fn copy_between_and_within(cx: &mut Context<'_>) -> CaseResult {
    let data: Vec<u8> = (0..=255u8).cycle().take(4099).collect();
    let (a, b) = (cx.device.alloc(4099)?, cx.device.alloc(5000)?);
    cx.device.write(&a, 0, &data)?;
    cx.device.write(&b, 0, &[0u8; 5000])?;
    cx.device.copy(&a, 3, &b, 901, 4000)?;
    // Within one buffer, non-overlapping.
    cx.device.copy(&a, 0, &a, 2048, 1024)?;
    let (mut got_b, mut got_a) = (vec![0u8; 5000], vec![0u8; 4099]);
    cx.device.read(&b, 0, &mut got_b)?;
    cx.device.read(&a, 0, &mut got_a)?;
    cx.device.free(a)?;
    cx.device.free(b)?;
    ensure(got_b[901..4901] == data[3..4003], || {
        "copy between buffers wrong".into()
    })?;
    ensure(got_b[..901].iter().all(|&x| x == 0), || {
        "copy wrote before its range".into()
    })?;
    ensure(got_a[2048..3072] == data[..1024], || {
        "copy within a buffer wrong".into()
    })
}

fn pinned_round_trip(cx: &mut Context<'_>) -> CaseResult {
    let data = data::random(DType::F32, 1 << 18, 11);
    let mut back = vec![0u8; data.len()];
    cx.device.pin(&data)?;
    cx.device.pin(&back)?;
    let buffer = cx.device.alloc(data.len() as u64)?;
    let written = cx.device.write(&buffer, 0, &data);
    let read = cx.device.read(&buffer, 0, &mut back);
    cx.device.free(buffer)?;
    cx.device.unpin(&data)?;
    cx.device.unpin(&back)?;
    written?;
    read?;
    ensure(back == data, || {
        "round trip through pinned host memory changed the data".into()
    })
}

fn zero_size_refused(cx: &mut Context<'_>) -> CaseResult {
    invalid(cx.device.alloc(0), "alloc(0)")
}

fn beyond_device_memory(cx: &mut Context<'_>) -> CaseResult {
    let too_much = cx.device.info().memory_bytes.saturating_mul(4).max(1 << 50);
    match cx.device.alloc(too_much) {
        Err(Error::OutOfMemory { .. }) => Ok(()),
        Err(e) => Err(format!("expected OutOfMemory, got {e}").into()),
        Ok(b) => {
            cx.device.free(b)?;
            Err(format!("allocating {too_much} bytes succeeded").into())
        }
    }
}

fn stats_track_live_buffers(cx: &mut Context<'_>) -> CaseResult {
    let before = cx.device.stats();
    let buffer = cx.device.alloc(4096)?;
    let during = cx.device.stats();
    cx.device.free(buffer)?;
    let after = cx.device.stats();
    ensure(during.live_buffers == before.live_buffers + 1, || {
        "alloc not counted".into()
    })?;
    ensure(during.live_bytes >= before.live_bytes + 4096, || {
        "bytes not counted".into()
    })?;
    ensure(after == before, || {
        format!("free not counted: {before:?} then {after:?}")
    })
}

fn use_after_free(cx: &mut Context<'_>) -> CaseResult {
    let buffer = cx.device.alloc(64)?;
    let (device, id) = (buffer.device(), buffer.id());
    cx.device.free(buffer)?;
    let stale = || Buffer::from_raw(device, id);
    invalid(cx.device.write(&stale(), 0, &[1; 8]), "write after free")?;
    invalid(cx.device.read(&stale(), 0, &mut [0; 8]), "read after free")?;
    invalid(cx.device.free(stale()), "double free")
}

fn foreign_handles(cx: &mut Context<'_>) -> CaseResult {
    let mut other = cx.backend.open(cx.index)?;
    let theirs = other.alloc(64)?;
    let result = cx.device.write(&theirs, 0, &[1; 8]);
    let kernel = executor::compile(other.as_mut(), "stream_copy", DType::F32, &[])?;
    let mine = cx.device.alloc(64)?;
    let launch = cx.device.launch(
        &kernel,
        Dims::linear(1, 1),
        &[Arg::Buffer(&mine), Arg::Buffer(&mine), Arg::U32(1)],
    );
    cx.device.free(mine)?;
    other.free(theirs)?;
    invalid(result, "write to another device's buffer")?;
    invalid(launch, "launch of another device's kernel")
}

fn forged_kernel(cx: &mut Context<'_>) -> CaseResult {
    let real = executor::compile(cx.device, "stream_copy", DType::F32, &[])?;
    let forged = Kernel::from_raw(real.device(), real.id() ^ 0xDEAD_0000);
    let buffer = cx.device.alloc(64)?;
    let result = cx
        .device
        .launch(&forged, Dims::linear(1, 1), &[Arg::Buffer(&buffer)]);
    cx.device.free(buffer)?;
    invalid(result, "launch of a forged kernel handle")
}

fn read_write_past_end(cx: &mut Context<'_>) -> CaseResult {
    let buffer = cx.device.alloc(100)?;
    let results = [
        ("write past the end", cx.device.write(&buffer, 96, &[0; 8])),
        (
            "read past the end",
            cx.device.read(&buffer, 0, &mut [0; 101]),
        ),
        (
            "offset overflow",
            cx.device.read(&buffer, u64::MAX, &mut [0; 2]),
        ),
    ];
    cx.device.free(buffer)?;
    for (what, result) in results {
        invalid(result, what)?;
    }
    Ok(())
}

fn copy_past_end(cx: &mut Context<'_>) -> CaseResult {
    let (a, b) = (cx.device.alloc(100)?, cx.device.alloc(50)?);
    let results = [
        (
            "copy past the destination",
            cx.device.copy(&a, 0, &b, 0, 51),
        ),
        ("copy past the source", cx.device.copy(&a, 60, &b, 0, 41)),
    ];
    cx.device.free(a)?;
    cx.device.free(b)?;
    for (what, result) in results {
        invalid(result, what)?;
    }
    Ok(())
}

fn compile_error_carries_log(cx: &mut Context<'_>) -> CaseResult {
    let dialects = cx.device.info().dialects.clone();
    let mut tried = false;
    for source in dialects.into_iter().filter_map(sources::broken) {
        tried = true;
        match cx.device.compile(&source) {
            Err(Error::Compile { kernel, log, .. }) => {
                ensure(kernel == source.name, || format!("error names `{kernel}`"))?;
                ensure(!log.trim().is_empty(), || "empty compile log".into())?;
            }
            Err(e) => return Err(format!("expected a Compile error, got {e}").into()),
            Ok(_) => return Err(format!("broken {} source compiled", source.dialect).into()),
        }
    }
    ensure(tried, || "no broken source for any dialect".into())
}

fn compile_repeat_hits_cache(cx: &mut Context<'_>) -> CaseResult {
    executor::compile(cx.device, "stream_triad", DType::F32, &[])?;
    let before = cx.device.stats();
    executor::compile(cx.device, "stream_triad", DType::F32, &[])?;
    let after = cx.device.stats();
    ensure(
        after.compile_cache_hits == before.compile_cache_hits + 1,
        || format!("second compile missed the cache: {before:?} then {after:?}"),
    )?;
    ensure(after.compiles == before.compiles, || {
        "second compile compiled again".into()
    })
}
