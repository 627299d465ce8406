//! Runs one case: prepare (untimed), validate once (which also warms up), choose the
//! iteration count from a time budget (probe one run, then fill the budget, as clpeak
//! does: robust from microsecond kernels to seconds-long ones), then take samples.
//!
//! Timing uses the device's timers when it has them (events around the runs), else a
//! host clock around the runs and a `sync`; every result says which.

use std::time::Duration;

use halbench_hal::{Device, Error, Result};
use halbench_kernels::executor::{self, Prepared};
use halbench_kernels::{Bound, CacheState, Case, Scale};

use crate::results::{CaseResult, Metrics, Status, Timing, TimingMethod};
use crate::stats;

/// How to sample one case: a time budget that sets the runs per sample and the first
/// samples, then more samples until the median is known to `precision` or `cap` has passed.
///
/// Precision is the half-width of the median's distribution-free 95% interval relative to
/// the median ([`stats::median_interval`]): 0.02 reads "this median is within ±2% of the
/// median a longer run would find", about what the gate's 10% threshold needs to tell a
/// change from noise with room to spare.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    /// Spread over `samples` samples: sets the runs per sample.
    pub time: Duration,
    /// Samples every case gets (fewer only for a case slower than `time` allows).
    pub samples: u32,
    /// Relative 95% half-width to sample to; `None`: `samples` samples and stop.
    pub precision: Option<f64>,
    /// Sampling time after which a case stops short of `precision` (and says so).
    pub cap: Duration,
    /// The cache state samples start from; `None`: the workload's default for the shape.
    pub cache: Option<CacheState>,
    /// Samples every case gets at least, however slow and whatever the cap (`--samples`:
    /// BabelStream's 100 runs, to set a best figure beside its best); 0: none.
    pub min_samples: u32,
}

impl Budget {
    /// Smoke (tests) takes 3 samples and stops. Quick asks ±2% within 1.5 s: 10 samples
    /// first (runs under 1 ms batched to 30 ms a sample), then more until the cap; on
    /// this project's noisy 2-core VM most fast cases reach it in 10-20 samples, and the
    /// cap bounds a quick suite's worst case.
    /// Full asks ±1% within 10 s.
    pub fn for_scale(scale: Scale) -> Self {
        match scale {
            Scale::Smoke => Budget {
                time: Duration::from_millis(20),
                samples: 3,
                precision: None,
                cap: Duration::from_millis(20),
                cache: None,
                min_samples: 0,
            },
            Scale::Quick => Budget {
                time: Duration::from_millis(300),
                samples: 10,
                precision: Some(0.02),
                cap: Duration::from_millis(1500),
                cache: None,
                min_samples: 0,
            },
            Scale::Full => Budget {
                time: Duration::from_secs(2),
                samples: 20,
                precision: Some(0.01),
                cap: Duration::from_secs(10),
                cache: None,
                min_samples: 0,
            },
        }
    }

    /// The budget asking `precision` (a fraction), the rest as it was.
    pub fn with_precision(self, precision: Option<f64>) -> Self {
        Budget { precision, ..self }
    }

    /// For measuring again a case whose comparison the noise could not decide: half the
    /// interval (about four times the samples, as the width shrinks with √n), four times
    /// the cap.
    pub fn tighter(self) -> Self {
        Budget {
            precision: Some(self.precision.unwrap_or(0.04) / 2.0),
            samples: self.samples.max(10),
            cap: self.cap.max(self.time) * 4,
            ..self
        }
    }
}

/// The fewest samples any case gets, however slow.
const MIN_SAMPLES: u32 = 3;

/// A run at least this long is a sample on its own, not averaged with others: every
/// timer here resolves it to well under 1%, and the best figure is then the fastest run,
/// as STREAM and BabelStream quote it (the best of 3-run averages trailed BabelStream's
/// best copy by a quarter on this machine). Shorter runs are batched up to the budget's
/// time a sample.
const ONE_RUN_SAMPLE_S: f64 = 1e-3;

/// The most samples one case takes, however fast.
pub const MAX_SAMPLES: u32 = 2000;

/// Runs and times one case; never panics on device errors (they become `error` rows).
pub fn run_case(device: &mut dyn Device, case: &Case, budget: Budget) -> CaseResult {
    let info = device.info().clone();
    let mut result = CaseResult {
        backend: info.backend.clone(),
        device: info.key(),
        workload: case.workload.name().into(),
        variant: case.variant_name().into(),
        dtype: case.dtype.name().into(),
        shape: case.shape.to_string(),
        status: Status::Error,
        reason: None,
        validation: None,
        timing: None,
        metrics: None,
        emulated: None,
        source: case.custom().map(|k| k.origin.clone()),
    };
    if !info.supports(case.dtype) {
        let has: Vec<&str> = info.features.dtypes.iter().map(|d| d.name()).collect();
        result.status = Status::Unsupported;
        result.reason = Some(format!(
            "{} has no {} support (it has {})",
            info.key(),
            case.dtype,
            has.join(", ")
        ));
        return result;
    }
    result.emulated = case.emulated(&info);
    let outcome = (|| -> Result<Option<Timing>> {
        let plan = case.plan(&info)?;
        let (mut prepared, output) = first_run(device, &plan)?;
        let validation = case.check(&plan, &output);
        let passed = validation.passed;
        result.validation = Some(validation);
        if !passed {
            return Ok(None);
        }
        let cache = budget.cache.unwrap_or_else(|| case.default_cache());
        time(&mut prepared, budget, cache).map(Some)
    })();
    match outcome {
        Ok(Some(timing)) => {
            result.status = Status::Passed;
            result.metrics = Some(metrics(case, &info, &timing));
            result.timing = Some(timing);
        }
        Ok(None) => {
            result.status = Status::Failed;
            result.reason = result
                .validation
                .as_ref()
                .and_then(|v| v.first_failure.clone());
        }
        Err(e @ Error::Unsupported { .. }) => {
            result.status = Status::Unsupported;
            result.reason = Some(e.to_string());
        }
        Err(e) => result.reason = Some(e.to_string()),
    }
    result
}

/// Prepares a plan of the caller's own (custom kernels, user data), runs it once, and
/// times it as `run_case` times a case; returns the output of the first run (to check
/// against the caller's reference) and the timing. Never called in a timed region.
pub fn time_plan(
    device: &mut dyn Device,
    plan: &halbench_kernels::Plan,
    budget: Budget,
) -> Result<(Vec<u8>, Timing)> {
    let (mut prepared, output) = first_run(device, plan)?;
    let timing = time(&mut prepared, budget, budget.cache.unwrap_or_default())?;
    Ok((output, timing))
}

/// Prepares (untimed) and runs a plan once, which validates and warms up alike.
fn first_run<'a>(
    device: &'a mut dyn Device,
    plan: &'a halbench_kernels::Plan,
) -> Result<(Prepared<'a>, Vec<u8>)> {
    let mut prepared = executor::prepare(device, plan)?;
    prepared.run()?;
    let output = prepared.output()?;
    Ok((prepared, output))
}

/// Seconds per run over `iterations` runs.
fn measure(prepared: &mut Prepared<'_>, iterations: u32) -> Result<f64> {
    let elapsed = prepared.time_runs(u64::from(iterations))?;
    Ok(elapsed.as_secs_f64() / f64::from(iterations))
}

fn time(prepared: &mut Prepared<'_>, budget: Budget, cache: CacheState) -> Result<Timing> {
    let evictor = match cache {
        CacheState::Cold => Some(Evictor::new(prepared.device())?),
        CacheState::Warm => None,
    };
    let timing = sample(prepared, budget, evictor.as_ref());
    if let Some(e) = evictor {
        e.free(prepared.device());
    }
    let mut timing = timing?;
    timing.cache = cache;
    Ok(timing)
}

/// Evicts the device's caches: a copy between two buffers of twice the last-level cache
/// each (at least 8 MiB, at most an eighth of the memory), run and waited for outside
/// the timed window. A copy rather than a host-side write, so that it evicts the cache
/// the device reads through, whichever device (a GPU's L2, a CPU's L3).
struct Evictor {
    kernel: halbench_hal::Kernel,
    src: halbench_hal::Buffer,
    dst: halbench_hal::Buffer,
    elements: u32,
}

impl Evictor {
    fn new(device: &mut dyn Device) -> Result<Self> {
        let info = device.info();
        let want = (2 * info.last_level_cache_bytes).max(8 << 20);
        let limit = if info.memory_bytes > 0 {
            info.memory_bytes / 8
        } else {
            want
        };
        let elements = (want.min(limit) / 4).min(u64::from(u32::MAX)) as u32;
        let bytes = u64::from(elements) * 4;
        let kernel = executor::compile(device, "stream_copy", halbench_hal::DType::F32, &[])?;
        let src = device.alloc(bytes)?;
        let dst = match device.alloc(bytes) {
            Ok(b) => b,
            Err(e) => {
                let _ = device.free(src);
                return Err(e);
            }
        };
        Ok(Evictor {
            kernel,
            src,
            dst,
            elements,
        })
    }

    fn evict(&self, device: &mut dyn Device) -> Result<()> {
        let dims = halbench_kernels::element_dims(device.info(), u64::from(self.elements));
        let args = [
            halbench_hal::Arg::Buffer(&self.src),
            halbench_hal::Arg::Buffer(&self.dst),
            halbench_hal::Arg::U32(self.elements),
        ];
        device.launch(&self.kernel, dims, &args)?;
        device.sync()
    }

    fn free(self, device: &mut dyn Device) {
        // A device that fails to free is already reporting errors elsewhere.
        let _ = device.free(self.src);
        let _ = device.free(self.dst);
    }
}

fn sample(
    prepared: &mut Prepared<'_>,
    budget: Budget,
    evictor: Option<&Evictor>,
) -> Result<Timing> {
    let compile_s = prepared.compile_time.as_secs_f64();
    let method = if prepared.device_timed() {
        TimingMethod::Device
    } else {
        TimingMethod::System
    };
    // The validation run has already warmed caches, clocks and lazy driver work. Probe
    // one run; a case slower than the budget allows keeps that run as its first sample.
    let cold = evictor.is_some();
    let take = |prepared: &mut Prepared<'_>, iterations: u32| -> Result<f64> {
        if let Some(e) = evictor {
            e.evict(prepared.device())?;
        }
        measure(prepared, iterations)
    };
    let probe = take(prepared, 1)?.max(1e-9);
    let per_sample = budget.time.as_secs_f64() / f64::from(budget.samples);
    let slow = probe * f64::from(budget.samples) > budget.time.as_secs_f64();
    let (iterations, samples, mut times) = if slow {
        let samples =
            ((budget.time.as_secs_f64() / probe) as u32).clamp(MIN_SAMPLES, budget.samples);
        (1, samples, vec![probe])
    } else if cold || probe >= ONE_RUN_SAMPLE_S {
        // Each run must start cold, or is long enough to time alone: one run a sample.
        (1, budget.samples, vec![probe])
    } else {
        let iterations = (per_sample / probe).clamp(1.0, 100_000.0) as u32;
        (iterations, budget.samples, Vec::new())
    };
    let samples = samples.max(budget.min_samples.min(MAX_SAMPLES));
    // The sensors watch the sampling loop only (not the probe), so the energy is of the
    // runs counted below.
    let before = times.len();
    let monitor =
        crate::telemetry::Monitor::start(crate::telemetry::for_device(prepared.device().info()));
    let started = std::time::Instant::now();
    let target = budget.precision.filter(|p| *p > 0.0);
    let precision = loop {
        if times.len() >= samples as usize {
            let mut sorted = times.clone();
            sorted.sort_by(f64::total_cmp);
            let precision = stats::relative_precision(&sorted);
            let wanted = target.is_some_and(|t| precision > t);
            if !wanted || started.elapsed() >= budget.cap || times.len() >= MAX_SAMPLES as usize {
                break precision;
            }
        }
        match take(prepared, iterations) {
            Ok(t) => times.push(t),
            Err(e) => {
                monitor.finish();
                return Err(e);
            }
        }
    };
    let mut telemetry = monitor.finish();
    telemetry.runs = ((times.len() - before) as u64) * u64::from(iterations);
    let capped = target.is_some_and(|t| precision > t);
    let s = stats::summarize(&times).unwrap_or(stats::Summary {
        median: probe,
        min: probe,
        max: probe,
        p10: probe,
        p90: probe,
        cv: 0.0,
    });
    Ok(Timing {
        method,
        samples: times.len() as u32,
        iterations,
        median_s: s.median,
        min_s: s.min,
        max_s: s.max,
        p10_s: s.p10,
        p90_s: s.p90,
        cv: s.cv,
        compile_s,
        precision: precision.is_finite().then_some(precision),
        precision_target: target,
        capped,
        sampling_s: started.elapsed().as_secs_f64(),
        cache: CacheState::Warm,
        telemetry: Some(telemetry),
    })
}

/// Work per joule (giga-units) over the sampling window, where the energy is known: the
/// window's runs times the work of one, over its energy. Not for a cold case, whose
/// window's energy includes the evicting copies.
fn per_joule(timing: &Timing, work: f64) -> Option<f64> {
    let t = timing.telemetry.as_ref()?;
    let energy = t.energy_j.filter(|e| *e > 0.0)?;
    (work > 0.0 && t.runs > 0 && timing.cache == CacheState::Warm)
        .then(|| work * t.runs as f64 / energy / 1e9)
}

fn metrics(case: &Case, info: &halbench_hal::DeviceInfo, timing: &Timing) -> Metrics {
    let cost = case.cost();
    let positive = |x: f64| (x > 0.0).then_some(x);
    let (median_s, best_s) = (timing.median_s, timing.min_s.max(1e-12));
    let gbs = positive(cost.bytes).map(|b| b / median_s / 1e9);
    let tflops = positive(cost.flops).map(|f| f / median_s / 1e12);
    let (achieved, peak) = match case.workload.bound() {
        Bound::Memory => (gbs, info.peak_gbs.as_ref()),
        Bound::Compute => (tflops, info.peak_tflops.get(&case.dtype)),
        Bound::Latency => (None, None),
    };
    Metrics {
        flops: cost.flops,
        bytes: cost.bytes,
        gbs,
        tflops,
        best_gbs: positive(cost.bytes).map(|b| b / best_s / 1e9),
        gflops_per_joule: per_joule(timing, cost.flops),
        gb_per_joule: per_joule(timing, cost.bytes),
        best_tflops: positive(cost.flops).map(|f| f / best_s / 1e12),
        pct_of_peak: achieved.zip(peak).map(|(a, p)| 100.0 * a / p.value),
        peak_source: peak.map(|p| p.source.clone()),
        arithmetic_intensity: positive(cost.bytes).map(|b| cost.flops / b),
        us_per_launch: positive(cost.launches).map(|n| median_s / n * 1e6),
        cache_resident: case.workload.cache_resident(&case.shape, info),
        expert_load: case.workload.expert_load(&case.shape),
        collective: None,
    }
}
