//! NVML telemetry through the real nvml-wrapper loading path, against a stand-in
//! `libnvidia-ml.so` (tests/nvml/standin.c, a test double for the NVIDIA driver, which no
//! machine here has): the device found by PCI bus id, every quantity read, a clock drop
//! below the applications clock flagged, and a quantity the device lacks named with
//! NVML's answer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use halbench::telemetry::{Monitor, Sensors};
use halbench::telemetry_nvml::{open_library, NvmlSensors};
use halbench_hal::{DeviceClass, DeviceInfo};

fn build(out: &Path, name: &str, defines: &[&str]) -> PathBuf {
    let lib = out.join(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nvml/standin.c");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1"])
        .args(defines)
        .arg(&src)
        .arg("-o")
        .arg(&lib)
        .status()
        .expect("cc runs");
    assert!(status.success(), "the NVML stand-in compiles");
    lib
}

fn gpu(extras: &[(&str, &str)]) -> DeviceInfo {
    DeviceInfo {
        backend: "cuda".into(),
        device_type: DeviceClass::Gpu,
        extras: extras
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..DeviceInfo::default()
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("halbench-nvml-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn nvml_readings_fold_into_telemetry_and_a_clock_drop_is_throttled() {
    let dir = scratch("full");
    let nvml = open_library(&build(&dir, "libnvidia-ml.so", &[])).unwrap();
    let info = gpu(&[("pci_bus_id", "00000000:19:00.0")]);
    let sensors = NvmlSensors::open(nvml, &info).unwrap();
    assert_eq!(sensors.rated_clock_mhz(), Some(1755.0));
    assert!(
        sensors.not_available().is_empty(),
        "{:?}",
        sensors.not_available()
    );
    let monitor = Monitor::start(Box::new(sensors));
    std::thread::sleep(Duration::from_millis(200));
    let t = monitor.finish();
    assert_eq!(t.clock_mhz_max, Some(1980.0), "{t:?}");
    assert_eq!(t.clock_mhz_min, Some(1410.0), "{t:?}");
    // 1410 MHz is 20% below the 1755 MHz applications clock.
    assert_eq!(t.throttled, Some(true));
    assert!(t
        .temperature_c_max
        .is_some_and(|c| (61.0..=63.0).contains(&c)));
    // Energy from the counter (5 J a read), power from it over the window.
    assert!(t.energy_j.is_some_and(|e| e >= 5.0), "{t:?}");
    assert!(t.power_w_avg.is_some_and(|w| w > 0.0), "{t:?}");
    assert!(t.not_available.is_empty(), "{:?}", t.not_available);
    // Another bus id is not this device: a clear error, not some other GPU's readings.
    let elsewhere = gpu(&[("pci_bus_id", "00000000:3B:00.0")]);
    let err = NvmlSensors::open(nvml, &elsewhere).err().unwrap();
    assert!(err.contains("00000000:3B:00.0"), "{err}");
    // Without a bus id the CUDA index is used.
    assert!(NvmlSensors::open(nvml, &gpu(&[])).is_ok());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_quantity_the_gpu_lacks_is_named_with_nvmls_answer() {
    let dir = scratch("nopower");
    let nvml = open_library(&build(&dir, "libnvidia-ml.so", &["-DNO_POWER"])).unwrap();
    let sensors = NvmlSensors::open(nvml, &gpu(&[])).unwrap();
    let missing = sensors.not_available();
    assert_eq!(missing.keys().collect::<Vec<_>>(), ["power"]);
    assert!(missing["power"].starts_with("NVML: "), "{missing:?}");
    let t = Monitor::start(Box::new(sensors)).finish();
    assert!(t.not_available.contains_key("power"), "{t:?}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn no_nvml_library_is_a_reason_not_a_failure() {
    let err = open_library(Path::new("/nonexistent/libnvidia-ml.so"))
        .err()
        .unwrap();
    assert!(err.contains("/nonexistent/libnvidia-ml.so"), "{err}");
    // Without a driver (this machine) a CUDA device's sensors say why, for every
    // quantity; with one, whatever it lacks is NVML's answer.
    let sensors = halbench::telemetry::for_device(&gpu(&[]));
    let missing = sensors.not_available();
    assert!(
        missing.values().all(|why| why.contains("NVML")),
        "{missing:?}"
    );
}
