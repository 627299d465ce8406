//! Reads what the CPU is from the machine (Linux /proc and sysfs), falling back to
//! conservative values elsewhere rather than failing.

use std::collections::BTreeMap;
use std::fs;

use halbench_hal::{DeviceInfo, Dialect, Features};

pub(crate) fn describe(threads: usize) -> DeviceInfo {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let flags = field("flags").unwrap_or_default();
    let simd: Vec<&str> = [
        "sse4_2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512_bf16",
        "avx512_fp16",
    ]
    .into_iter()
    .filter(|f| flags.split_whitespace().any(|x| x == *f))
    .collect();

    let mut extras = BTreeMap::new();
    extras.insert("simd".into(), simd.join(","));
    extras.insert("arch".into(), std::env::consts::ARCH.into());
    if let Some(mhz) = field("cpu MHz") {
        extras.insert("mhz".into(), mhz);
    }

    DeviceInfo {
        backend: "cpu".into(),
        index: 0,
        name: field("model name").unwrap_or_else(|| std::env::consts::ARCH.into()),
        vendor: field("vendor_id").unwrap_or_else(|| "unknown".into()),
        driver_version: format!(
            "halbench-cpu {}, linux {}",
            env!("CARGO_PKG_VERSION"),
            fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
        ),
        device_type: "cpu".into(),
        memory_bytes: meminfo_bytes("MemTotal").unwrap_or(0),
        compute_units: threads as u32,
        max_threads_per_group: 1,
        last_level_cache_bytes: last_level_cache_bytes().unwrap_or(0),
        subgroup_size: 1,
        dialects: vec![Dialect::Builtin],
        // Half types are stored as 16 bits and computed in f32 on every CPU; F16C and
        // AVX-512 BF16 only make the conversions faster.
        features: Features {
            f16: true,
            bf16: true,
            device_timers: false,
            cooperative_matrix: false,
            unified_memory: true,
        },
        peak_gbs: None,
        peak_tflops: BTreeMap::new(),
        extras,
    }
}

/// A /proc/meminfo field in bytes.
pub(crate) fn meminfo_bytes(key: &str) -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The largest cache of cpu0, from sysfs (`index*/size` such as `32768K`).
fn last_level_cache_bytes() -> Option<u64> {
    let dir = fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    dir.filter_map(|e| e.ok())
        .filter_map(|e| fs::read_to_string(e.path().join("size")).ok())
        .filter_map(|s| parse_size(s.trim()))
        .max()
}

fn parse_size(s: &str) -> Option<u64> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "" => n,
        "K" => n << 10,
        "M" => n << 20,
        "G" => n << 30,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_sizes_parse() {
        assert_eq!(parse_size("32768K"), Some(32 << 20));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn describes_this_machine() {
        let info = describe(2);
        assert_eq!(info.backend, "cpu");
        assert!(!info.name.is_empty());
        assert!(info.memory_bytes > 0);
        assert!(info.last_level_cache_bytes > 0);
    }
}
