//! Clocks, temperature, power and energy around each timed case, where the platform
//! exposes them, so a throttled device's figure can be told from a slow kernel.
//!
//! A [`Sensors`] source reads one moment; a [`Monitor`] reads it on a thread every
//! [`PERIOD`] while a case samples, and folds the readings into the result's
//! [`Telemetry`]: the clock's range, the hottest temperature, the energy (from a
//! cumulative counter where there is one, else power integrated over time), the average
//! power, and `throttled` when the clock fell more than [`THROTTLE_FRACTION`] below the
//! device's rated clock (or the case's highest, where the rating is unknown). Whatever a
//! platform does not expose is named in `not_available` with the reason, never a zero.
//!
//! Sources: the host's Linux sysfs for devices that are the host CPU (cpufreq, hwmon,
//! powercap/RAPL), [`HostSensors`]; NVML for NVIDIA GPUs
//! ([`crate::telemetry_nvml::NvmlSensors`]); OpenCL and Vulkan have no live-sensor query,
//! so their devices name that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How often a monitor reads its sensors during a case.
pub const PERIOD: Duration = Duration::from_millis(20);

/// A clock more than this far below the rated (or highest seen) clock is throttled.
pub const THROTTLE_FRACTION: f64 = 0.10;

/// One moment's readings; `None` where the source has no such sensor.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub clock_mhz: Option<f64>,
    pub temperature_c: Option<f64>,
    pub power_w: Option<f64>,
    /// A cumulative energy counter, in joules (differences are what count).
    pub energy_j: Option<f64>,
}

/// A device's sensors.
pub trait Sensors: Send {
    fn read(&mut self) -> Reading;
    /// The rated (maximum non-boost) clock, where known.
    fn rated_clock_mhz(&self) -> Option<f64> {
        None
    }
    /// What this source cannot read, by quantity (`clock`, `temperature`, `power`,
    /// `energy`), and why.
    fn not_available(&self) -> BTreeMap<String, String>;
}

/// What a result records of the device's state while it was sampled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Telemetry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_mhz_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_mhz_max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c_max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w_avg: Option<f64>,
    /// Joules over the sampling window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_j: Option<f64>,
    /// The clock fell more than 10% below the rated clock (or the case's highest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled: Option<bool>,
    /// Seconds the readings span.
    pub window_s: f64,
    /// The case's runs inside the window: energy per run is `energy_j / runs`.
    #[serde(default)]
    pub runs: u64,
    /// Quantities the platform does not expose, and why.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_available: BTreeMap<String, String>,
}

/// Folds a case's readings (with the time of each) into its telemetry.
pub fn summarize(
    readings: &[(Duration, Reading)],
    rated_clock_mhz: Option<f64>,
    not_available: BTreeMap<String, String>,
) -> Telemetry {
    let span = match (readings.first(), readings.last()) {
        (Some(a), Some(b)) => b.0.saturating_sub(a.0).as_secs_f64(),
        _ => 0.0,
    };
    let values = |f: fn(&Reading) -> Option<f64>| -> Vec<f64> {
        readings.iter().filter_map(|(_, r)| f(r)).collect()
    };
    let fold = |v: &[f64], pick: fn(f64, f64) -> f64| v.iter().copied().reduce(pick);
    let clocks = values(|r| r.clock_mhz);
    let (clock_min, clock_max) = (fold(&clocks, f64::min), fold(&clocks, f64::max));
    let counter: Vec<(f64, f64)> = readings
        .iter()
        .filter_map(|(t, r)| r.energy_j.map(|e| (t.as_secs_f64(), e)))
        .collect();
    let energy = match (counter.first(), counter.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => Some(b.1 - a.1),
        _ => integrate_power(readings),
    }
    .filter(|e| *e >= 0.0);
    let reference = rated_clock_mhz.or(clock_max);
    Telemetry {
        clock_mhz_min: clock_min,
        clock_mhz_max: clock_max,
        temperature_c_max: fold(&values(|r| r.temperature_c), f64::max),
        power_w_avg: energy.filter(|_| span > 0.0).map(|e| e / span),
        energy_j: energy,
        throttled: clock_min
            .zip(reference)
            .map(|(low, top)| low < (1.0 - THROTTLE_FRACTION) * top),
        window_s: span,
        runs: 0,
        not_available,
    }
}

/// Joules from power readings by the trapezoid rule, where there is no energy counter.
fn integrate_power(readings: &[(Duration, Reading)]) -> Option<f64> {
    let points: Vec<(f64, f64)> = readings
        .iter()
        .filter_map(|(t, r)| r.power_w.map(|p| (t.as_secs_f64(), p)))
        .collect();
    (points.len() >= 2).then(|| {
        points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum()
    })
}

/// What the monitor's thread hands back: the timed readings, and the source.
type Readings = (Vec<(Duration, Reading)>, Box<dyn Sensors>);

/// Reads a source on a thread while a case samples; a source with nothing to read (every
/// quantity not available, as on this project's VM) gets no thread, so nothing wakes up
/// inside the timed runs for nothing.
#[allow(missing_debug_implementations)] // holds a thread and a trait object
pub struct Monitor(Watch);

enum Watch {
    Reading {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<Readings>,
    },
    Idle(Box<dyn Sensors>),
}

/// Every quantity a source may read.
const QUANTITIES: usize = 4;

impl Monitor {
    pub fn start(mut sensors: Box<dyn Sensors>) -> Monitor {
        if sensors.not_available().len() >= QUANTITIES {
            return Monitor(Watch::Idle(sensors));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut readings = vec![(Duration::ZERO, sensors.read())];
            while !flag.load(Ordering::Relaxed) {
                std::thread::park_timeout(PERIOD);
                readings.push((start.elapsed(), sensors.read()));
            }
            (readings, sensors)
        });
        Monitor(Watch::Reading { stop, thread })
    }

    /// Stops reading (one last reading now) and folds what was read.
    pub fn finish(self) -> Telemetry {
        let (readings, sensors) = match self.0 {
            Watch::Idle(sensors) => (Vec::new(), sensors),
            Watch::Reading { stop, thread } => {
                stop.store(true, Ordering::Relaxed);
                thread.thread().unpark();
                match thread.join() {
                    Ok(done) => done,
                    Err(_) => {
                        return Telemetry {
                            not_available: [("all".into(), "the sensor thread panicked".into())]
                                .into(),
                            ..Telemetry::default()
                        }
                    }
                }
            }
        };
        summarize(
            &readings,
            sensors.rated_clock_mhz(),
            sensors.not_available(),
        )
    }
}

/// The host CPU's sensors in Linux sysfs: cpufreq (`scaling_cur_freq`, kHz, averaged over
/// the CPUs), hwmon (`temp*_input`, m°C, the hottest), powercap RAPL (`energy_uj`, the
/// package domains summed, with their wrap-around). `root` is `/` but for tests.
#[derive(Debug)]
pub struct HostSensors {
    clocks: Vec<PathBuf>,
    rated_mhz: Option<f64>,
    temps: Vec<PathBuf>,
    /// (energy_uj, max_energy_range_uj) per package domain, with the last raw value.
    rapl: Vec<(PathBuf, f64, Option<f64>)>,
    /// Joules accumulated across wraps.
    energy: f64,
    missing: BTreeMap<String, String>,
}

fn read_number(path: &Path) -> Option<f64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn glob(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    found.sort();
    found
}

impl HostSensors {
    pub fn new(root: &Path) -> HostSensors {
        let cpus = root.join("sys/devices/system/cpu");
        let is_cpu = |n: &str| {
            n.strip_prefix("cpu")
                .is_some_and(|d| d.parse::<u32>().is_ok())
        };
        let cpufreq: Vec<PathBuf> = glob(&cpus, is_cpu)
            .into_iter()
            .map(|c| c.join("cpufreq"))
            .filter(|c| c.join("scaling_cur_freq").exists())
            .collect();
        let clocks: Vec<PathBuf> = cpufreq.iter().map(|c| c.join("scaling_cur_freq")).collect();
        let rated_mhz = cpufreq
            .first()
            .and_then(|c| {
                read_number(&c.join("base_frequency"))
                    .or_else(|| read_number(&c.join("cpuinfo_max_freq")))
            })
            .map(|khz| khz / 1000.0);
        let hwmon = root.join("sys/class/hwmon");
        let temps: Vec<PathBuf> = glob(&hwmon, |_| true)
            .into_iter()
            .flat_map(|h| glob(&h, |n| n.starts_with("temp") && n.ends_with("_input")))
            .collect();
        let powercap = root.join("sys/class/powercap");
        // Package domains only (`intel-rapl:0`, not the `intel-rapl:0:0` sub-domains they
        // contain, which would count twice).
        let rapl: Vec<(PathBuf, f64, Option<f64>)> = glob(&powercap, |n| {
            n.split(':').count() == 2 && n.contains("rapl")
        })
        .into_iter()
        .filter(|d| d.join("energy_uj").exists())
        .map(|d| {
            let range = read_number(&d.join("max_energy_range_uj")).unwrap_or(f64::MAX);
            (d.join("energy_uj"), range, None)
        })
        .collect();
        let mut missing = BTreeMap::new();
        if clocks.is_empty() {
            missing.insert(
                "clock".into(),
                format!(
                    "no cpufreq under {} (a VM's hypervisor, or a kernel without cpufreq, hides it; /proc/cpuinfo's MHz is not a live reading)",
                    cpus.display()
                ),
            );
        }
        if temps.is_empty() {
            missing.insert(
                "temperature".into(),
                format!("no temp*_input under {}", hwmon.display()),
            );
        }
        if rapl.is_empty() {
            let why = format!(
                "no RAPL package domain with energy_uj under {} (absent in VMs; root-only on some kernels)",
                powercap.display()
            );
            missing.insert("energy".into(), why.clone());
            missing.insert("power".into(), why);
        }
        HostSensors {
            clocks,
            rated_mhz,
            temps,
            rapl,
            energy: 0.0,
            missing,
        }
    }
}

impl Sensors for HostSensors {
    fn read(&mut self) -> Reading {
        let clocks: Vec<f64> = self.clocks.iter().filter_map(|p| read_number(p)).collect();
        let clock_mhz =
            (!clocks.is_empty()).then(|| clocks.iter().sum::<f64>() / clocks.len() as f64 / 1000.0);
        let temperature_c = self
            .temps
            .iter()
            .filter_map(|p| read_number(p))
            .map(|m| m / 1000.0)
            .reduce(f64::max);
        let mut any = false;
        for (path, range, last) in &mut self.rapl {
            if let Some(now) = read_number(path) {
                any = true;
                if let Some(before) = *last {
                    let delta = if now >= before {
                        now - before
                    } else {
                        now + *range - before
                    };
                    self.energy += delta / 1e6;
                }
                *last = Some(now);
            }
        }
        Reading {
            clock_mhz,
            temperature_c,
            power_w: None,
            energy_j: any.then_some(self.energy),
        }
    }

    fn rated_clock_mhz(&self) -> Option<f64> {
        self.rated_mhz
    }

    fn not_available(&self) -> BTreeMap<String, String> {
        self.missing.clone()
    }
}

/// The sensor source for a device: the host's sysfs for a device that is the host CPU;
/// NVML for an NVIDIA device (CUDA's, or one whose PCI bus id is known); for the rest,
/// every quantity not available, with the reason.
pub fn for_device(info: &halbench_hal::DeviceInfo) -> Box<dyn Sensors> {
    let nvidia = info.backend == "cuda" || info.extras.contains_key("pci_bus_id");
    match info.device_type {
        halbench_hal::DeviceClass::Cpu => Box::new(HostSensors::new(Path::new("/"))),
        _ if nvidia => match crate::telemetry_nvml::NvmlSensors::for_device(info) {
            Ok(sensors) => Box::new(sensors),
            Err(why) => Box::new(NoSensors(why)),
        },
        class => Box::new(NoSensors(format!(
            "{} reports no live clock, temperature or power for a {} device (OpenCL and Vulkan have no such query; NVML covers NVIDIA devices)",
            info.backend,
            class.name()
        ))),
    }
}

/// A device with no sensor source: every quantity named, with the reason.
#[derive(Debug)]
pub struct NoSensors(pub String);

impl Sensors for NoSensors {
    fn read(&mut self) -> Reading {
        Reading::default()
    }

    fn not_available(&self) -> BTreeMap<String, String> {
        ["clock", "energy", "power", "temperature"]
            .into_iter()
            .map(|q| (q.to_string(), self.0.clone()))
            .collect()
    }
}

#[cfg(test)]
#[path = "telemetry_tests.rs"]
mod tests;
