//! Reads what the CPU is from the machine (Linux /proc and sysfs), falling back to
//! conservative values elsewhere rather than failing.

use std::collections::BTreeMap;
use std::fs;

use halbench_hal::host::{last_level_cache_bytes, meminfo_bytes};
use halbench_hal::{DType, DeviceInfo, Dialect, Features};

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
        device_type: halbench_hal::DeviceClass::Cpu,
        memory_bytes: meminfo_bytes("MemTotal").unwrap_or(0),
        compute_units: threads as u32,
        max_threads_per_group: 1,
        // Builtins only: they take no work-group shape to limit.
        max_group_size: [0; 3],
        max_groups: [0; 3],
        last_level_cache_bytes: last_level_cache_bytes().unwrap_or(0),
        subgroup_size: 1,
        dialects: vec![Dialect::Builtin],
        // Half types are stored as 16 bits and computed in f32 on every CPU; F16C and
        // AVX-512 BF16 only make the conversions faster.
        features: Features {
            dtypes: DType::ALL.into(),
            device_timers: false,
            cooperative_matrix: false,
            fp8_matrix: false,
            unified_memory: true,
        },
        peak_gbs: None,
        peak_tflops: BTreeMap::new(),
        extras,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_machine() {
        let info = describe(2);
        assert_eq!(info.backend, "cpu");
        assert!(!info.name.is_empty());
        assert!(info.memory_bytes > 0);
        assert!(info.last_level_cache_bytes > 0);
    }
}
