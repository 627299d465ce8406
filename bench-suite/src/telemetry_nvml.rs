//! NVML readings for NVIDIA devices (CUDA's, or any backend's that reports a PCI bus id).
//! `nvml-wrapper` opens `libnvidia-ml` at run time, so one build runs on machines without
//! the driver, and there every quantity says why it is not available.
//!
//! The device is found by PCI bus id (`extras["pci_bus_id"]`, which the CUDA backend
//! records), so `CUDA_VISIBLE_DEVICES` renumbering cannot point at another GPU; a CUDA
//! device without one falls back to its index. Quantities: the SM clock, the GPU core
//! temperature, board power, and the cumulative energy counter (Volta and later). The
//! rated clock is the default applications clock (what the GPU is specified to hold under
//! load; boost above it is not counted against a reading), else the maximum SM clock.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::sync::OnceLock;

use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::{Device, Nvml};

use crate::telemetry::{Reading, Sensors};

/// The process's NVML, opened once; `Err` says why it could not be.
fn shared() -> Result<&'static Nvml, String> {
    static NVML: OnceLock<Result<&'static Nvml, String>> = OnceLock::new();
    NVML.get_or_init(|| {
        let opened = Nvml::init().or_else(|first| {
            // Driver packages without the development symlink ship only the soname.
            Nvml::builder()
                .lib_path(OsStr::new("libnvidia-ml.so.1"))
                .init()
                .map_err(|_| first)
        });
        opened
            .map(|n| &*Box::leak(Box::new(n)))
            .map_err(|e| format!("NVML could not be opened: {e}"))
    })
    .clone()
}

/// Opens the NVML library at `path` for the life of the process (a stand-in library in
/// tests, or a driver outside the loader's path).
pub fn open_library(path: &std::path::Path) -> Result<&'static Nvml, String> {
    Nvml::builder()
        .lib_path(path.as_os_str())
        .init()
        .map(|n| &*Box::leak(Box::new(n)))
        .map_err(|e| format!("NVML could not be opened from {}: {e}", path.display()))
}

/// How NVML reads each quantity, in the units a [`Reading`] takes: MHz, °C, W, J. One
/// table serves the probe at open (what fails is named) and every later reading.
type Read = fn(&Device<'static>) -> Result<f64, nvml_wrapper::error::NvmlError>;
const QUANTITIES: [(&str, Read); 4] = [
    ("clock", |d| d.clock_info(Clock::SM).map(f64::from)),
    ("temperature", |d| {
        d.temperature(TemperatureSensor::Gpu).map(f64::from)
    }),
    ("power", |d| d.power_usage().map(|mw| f64::from(mw) / 1e3)),
    ("energy", |d| {
        d.total_energy_consumption().map(|mj| mj as f64 / 1e3)
    }),
];

/// One NVIDIA device's sensors.
pub struct NvmlSensors {
    device: Device<'static>,
    rated_mhz: Option<f64>,
    missing: BTreeMap<String, String>,
}

impl NvmlSensors {
    /// The device's sensors through the process's NVML.
    pub fn for_device(info: &halbench_hal::DeviceInfo) -> Result<NvmlSensors, String> {
        NvmlSensors::open(shared()?, info)
    }

    /// The device's sensors through `nvml`. Each quantity is read once here, so one a
    /// device does not support is named with NVML's answer instead of polled for nothing.
    pub fn open(
        nvml: &'static Nvml,
        info: &halbench_hal::DeviceInfo,
    ) -> Result<NvmlSensors, String> {
        let device = match info.extras.get("pci_bus_id") {
            Some(id) => nvml
                .device_by_pci_bus_id(id.as_str())
                .map_err(|e| format!("NVML has no device at PCI bus id {id}: {e}"))?,
            None => nvml
                .device_by_index(info.index as u32)
                .map_err(|e| format!("NVML has no device {}: {e}", info.index))?,
        };
        let missing = QUANTITIES
            .iter()
            .filter_map(|(quantity, read)| {
                let why = read(&device).err()?;
                Some((quantity.to_string(), format!("NVML: {why}")))
            })
            .collect();
        let rated_mhz = device
            .default_applications_clock(Clock::SM)
            .or_else(|_| device.max_clock_info(Clock::SM))
            .ok()
            .filter(|&mhz| mhz > 0)
            .map(f64::from);
        Ok(NvmlSensors {
            device,
            rated_mhz,
            missing,
        })
    }
}

impl std::fmt::Debug for NvmlSensors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NvmlSensors")
            .field("rated_mhz", &self.rated_mhz)
            .field("missing", &self.missing)
            .finish_non_exhaustive()
    }
}

impl Sensors for NvmlSensors {
    fn read(&mut self) -> Reading {
        let value = |quantity: &str| {
            let (_, read) = QUANTITIES.iter().find(|(q, _)| *q == quantity)?;
            (!self.missing.contains_key(quantity))
                .then(|| read(&self.device).ok())
                .flatten()
        };
        Reading {
            clock_mhz: value("clock"),
            temperature_c: value("temperature"),
            power_w: value("power"),
            energy_j: value("energy"),
        }
    }

    fn rated_clock_mhz(&self) -> Option<f64> {
        self.rated_mhz
    }

    fn not_available(&self) -> BTreeMap<String, String> {
        self.missing.clone()
    }
}
