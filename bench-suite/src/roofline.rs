//! The roofline: what bounds each result, and how far it is from that bound.
//!
//! ```text
//!   TFLOP/s │          ┌──────────── peak (peak.fma, per dtype)
//!           │        ╱ ·  result: % of attainable = achieved / min(peak, AI × bandwidth)
//!           │      ╱
//!           │    ╱  bandwidth (best stream kernel out of cache)
//!           └──────┼──────────────── arithmetic intensity (FLOP/byte)
//!                ridge = peak / bandwidth
//! ```
//!
//! Ceilings come from measurements in a results document (`peak.fma`, `stream.*`), and
//! only where none exists from the vendor figures in `DeviceInfo`; each says which.
//! For LLM decode, a step reads every weight once (total params × bytes per param) and
//! does 2 FLOPs per active param per sequence, so a batch is compute bound from
//! `ridge × (bytes per param / 2) × (total / active)` sequences on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::Style;

use halbench_hal::DType;

use crate::knee::{self, Layer};

/// The memory curve's workload (its out-of-cache points form one plateau).
const SWEEP: &str = "stream.sweep";
use crate::results::{BatchSweep, CaseResult, RunReport, Status};
use crate::run::{self, fail, usage};
use crate::select::UsageError;
use crate::{baseline, compare, RunOptions};

/// One ceiling and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    pub value: f64,
    /// `measured: stream.triad` or the vendor figure's source.
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ceilings {
    pub device: String,
    pub name: String,
    /// `baseline::device_key`: matches devices across files and machines.
    pub kind: String,
    pub memory_bytes: u64,
    /// GB/s.
    pub bandwidth: Option<Ceiling>,
    /// TFLOP/s per dtype.
    pub peaks: BTreeMap<String, Ceiling>,
}

fn passed(r: &CaseResult) -> bool {
    r.status == Status::Passed
}

impl Ceilings {
    /// The ceilings of every device in a run.
    pub fn from_report(report: &RunReport) -> Vec<Ceilings> {
        report
            .devices
            .iter()
            .map(|info| {
                let key = info.key();
                let mine = || {
                    report
                        .results
                        .iter()
                        .filter(|r| r.device == key && passed(r))
                };
                let out_of_cache = |r: &&CaseResult| {
                    let m = r.metrics.as_ref()?;
                    m.gbs.filter(|_| !m.cache_resident)
                };
                let mut candidates: Vec<Ceiling> = mine()
                    .filter(|r| r.workload.starts_with("stream.") && r.workload != SWEEP)
                    .filter_map(|r| {
                        let value = out_of_cache(&r)?;
                        let source = format!("measured: {}", r.workload);
                        Some(Ceiling { value, source })
                    })
                    .collect();
                // The memory curve counts as one figure, its plateau: the median of its
                // out-of-cache points, not its luckiest one.
                let plateau: Vec<f64> = mine()
                    .filter(|r| r.workload == SWEEP)
                    .filter_map(|r| out_of_cache(&r))
                    .collect();
                if let Some(value) = crate::stats::summarize(&plateau).map(|s| s.median) {
                    let source = format!(
                        "measured: {SWEEP} plateau (median of {} sizes beyond 4× the LLC)",
                        plateau.len()
                    );
                    candidates.push(Ceiling { value, source });
                }
                let bandwidth = candidates
                    .into_iter()
                    .max_by(|a, b| a.value.total_cmp(&b.value));
                let bandwidth = bandwidth.or_else(|| {
                    info.peak_gbs.as_ref().map(|p| Ceiling {
                        value: p.value,
                        source: p.source.clone(),
                    })
                });
                let mut peaks: BTreeMap<String, Ceiling> = BTreeMap::new();
                for r in mine().filter(|r| r.workload == "peak.fma") {
                    let Some(t) = r.metrics.as_ref().and_then(|m| m.tflops) else {
                        continue;
                    };
                    if peaks.get(&r.dtype).is_none_or(|c| t > c.value) {
                        let source = "measured: peak.fma".to_string();
                        peaks.insert(r.dtype.clone(), Ceiling { value: t, source });
                    }
                }
                for (dtype, p) in &info.peak_tflops {
                    peaks.entry(dtype.name().to_string()).or_insert(Ceiling {
                        value: p.value,
                        source: p.source.clone(),
                    });
                }
                Ceilings {
                    device: info.key(),
                    name: info.name.clone(),
                    kind: baseline::device_key(info),
                    memory_bytes: info.memory_bytes,
                    bandwidth,
                    peaks,
                }
            })
            .collect()
    }

    /// The compute ceiling for `dtype`: its own, else f32 (a device with no arithmetic for
    /// a dtype computes it in f32). Returns the dtype whose peak it is.
    pub fn peak(&self, dtype: &str) -> Option<(&str, f64)> {
        self.peaks
            .get_key_value(dtype)
            .or_else(|| self.peaks.get_key_value("f32"))
            .map(|(d, c)| (d.as_str(), c.value))
    }

    /// FLOP per byte where the roofs meet.
    pub fn ridge(&self, dtype: &str) -> Option<f64> {
        let (_, peak) = self.peak(dtype)?;
        let bw = self.bandwidth.as_ref()?.value;
        Some(peak * 1e12 / (bw * 1e9))
    }

    /// TFLOP/s the roofline allows at an arithmetic intensity.
    pub fn attainable(&self, dtype: &str, intensity: f64) -> Option<f64> {
        let (_, peak) = self.peak(dtype)?;
        let bw = self.bandwidth.as_ref()?.value;
        Some(peak.min(intensity * bw / 1e3))
    }

    /// Seconds to read all of device memory once at the measured bandwidth.
    pub fn read_all_memory_s(&self) -> Option<f64> {
        let bw = self.bandwidth.as_ref()?.value;
        (self.memory_bytes > 0).then(|| self.memory_bytes as f64 / (bw * 1e9))
    }
}

/// A result placed on its device's roofline.
#[derive(Debug, Clone, Serialize)]
pub struct Placed {
    pub key: String,
    pub workload: String,
    pub dtype: String,
    /// FLOP/byte; 0 for pure data movement.
    pub intensity: f64,
    /// TFLOP/s, or GB/s for pure data movement.
    pub achieved: f64,
    pub attainable: f64,
    pub pct_of_attainable: f64,
}

/// Every passed result of `device` that has a cost, against the ceilings.
pub fn place(ceilings: &Ceilings, results: &[CaseResult], device: &str) -> Vec<Placed> {
    let mut out = Vec::new();
    for r in results.iter().filter(|r| r.device == device && passed(r)) {
        let Some(m) = &r.metrics else { continue };
        let placed = match (m.tflops, m.gbs, m.arithmetic_intensity) {
            (Some(t), _, Some(ai)) => ceilings.attainable(&r.dtype, ai).map(|a| (ai, t, a)),
            (None, Some(g), _) => ceilings.bandwidth.as_ref().map(|b| (0.0, g, b.value)),
            _ => None,
        };
        if let Some((intensity, achieved, attainable)) = placed {
            out.push(Placed {
                key: r.key(),
                workload: r.workload.clone(),
                dtype: r.dtype.clone(),
                intensity,
                achieved,
                attainable,
                pct_of_attainable: 100.0 * achieved / attainable,
            });
        }
    }
    out
}

/// An LLM for the decode estimate.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    pub total_params: f64,
    pub active_params: f64,
    pub bytes_per_param: f64,
}

/// The decode batch from which a step is compute bound rather than bandwidth bound.
pub fn decode_batch(ceilings: &Ceilings, dtype: &str, model: Model) -> Option<f64> {
    let ridge = ceilings.ridge(dtype)?;
    Some(ridge * (model.bytes_per_param / 2.0) * (model.total_params / model.active_params))
}

/// `70e9`, `70B`, `1.5T`, `480M`, `8000000000`.
pub fn parse_count(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (digits, scale) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() && !t.ends_with(['e', 'E']) => {
            let scale = match c.to_ascii_uppercase() {
                'K' => 1e3,
                'M' => 1e6,
                'B' | 'G' => 1e9,
                'T' => 1e12,
                _ => return Err(format!("`{s}`: unknown suffix `{c}` (K, M, B, T)")),
            };
            (&t[..i], scale)
        }
        _ => (t, 1.0),
    };
    match digits.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v * scale),
        _ => Err(format!("`{s}` is not a positive count (e.g. 70e9 or 70B)")),
    }
}

#[derive(Args, Debug)]
pub struct RooflineArgs {
    /// Comma-separated backends (default: every backend found).
    #[arg(long, value_delimiter = ',')]
    pub backend: Vec<String>,
    /// Also place this run's results on the rooflines (matched by device kind).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Total parameters of a model, for the decode estimate (`70e9`, `70B`).
    #[arg(long)]
    pub model_params: Option<String>,
    /// Parameters active per token (mixture of experts); default: all of them.
    #[arg(long, requires = "model_params")]
    pub active_params: Option<String>,
    /// Bytes per weight (2 for bf16, 1 for int8/fp8).
    #[arg(long, default_value_t = 2.0)]
    pub bytes_per_param: f64,
    /// The dtype whose compute peak the decode estimate uses.
    #[arg(long, default_value = "bf16")]
    pub dtype: String,
    /// Save the measurement (a normal results document) here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub sweep: crate::knee::SweepArgs,
}

fn model(args: &RooflineArgs, sweep: Option<(&Layer, DType)>) -> Result<Option<Model>, String> {
    let Some(total) = &args.model_params else {
        // A preset's whole model, its weights in the sweep's dtype.
        return Ok(sweep.and_then(|(layer, dtype)| {
            let (total, active) = layer.model?;
            Some(Model {
                total_params: total,
                active_params: active,
                bytes_per_param: dtype.size() as f64,
            })
        }));
    };
    let total = parse_count(total)?;
    let active = match &args.active_params {
        Some(a) => parse_count(a)?,
        None => total,
    };
    if active > total {
        return Err(format!(
            "--active-params ({active:e}) exceeds --model-params ({total:e})"
        ));
    }
    let bpp = args.bytes_per_param;
    if !(bpp.is_finite() && bpp > 0.0) {
        return Err(format!("--bytes-per-param must be positive, got {bpp}"));
    }
    Ok(Some(Model {
        total_params: total,
        active_params: active,
        bytes_per_param: bpp,
    }))
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

/// `halbench roofline`.
pub fn command(args: RooflineArgs) -> ExitCode {
    let layer = match args.sweep.layer() {
        Ok(l) => l,
        Err(e) => return usage(UsageError(e)),
    };
    let sweep_dtype = match layer
        .as_ref()
        .map(|_| args.dtype.parse::<DType>())
        .transpose()
    {
        Ok(d) => d,
        Err(e) => return usage(UsageError(e)),
    };
    let model = match model(&args, layer.as_ref().zip(sweep_dtype)) {
        Ok(m) => m,
        Err(e) => return usage(UsageError(e)),
    };
    let input = match args.input.as_deref().map(compare::load).transpose() {
        Ok(i) => i,
        Err(e) => return usage(UsageError(e)),
    };
    let measured = match run::execute(&RunOptions {
        backend: args.backend.clone(),
        workload: vec![
            "peak.fma".into(),
            "stream.copy".into(),
            "stream.triad".into(),
        ],
        json: args.json.clone(),
        ..RunOptions::default()
    }) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let ceilings = Ceilings::from_report(&measured.report);
    if ceilings.is_empty() {
        return fail("no device to measure".into());
    }
    let mut b = Builder::default();
    b.push_record([
        "device",
        "dtype",
        "peak TFLOP/s",
        "GB/s",
        "ridge FLOP/B",
        "decode batch",
        "read memory",
    ]);
    for c in &ceilings {
        let bw = c.bandwidth.as_ref().map(|b| b.value);
        let read = c.read_all_memory_s().map(|s| format!("{:.1} ms", s * 1e3));
        for (dtype, peak) in &c.peaks {
            let batch = model.and_then(|m| decode_batch(c, dtype, m));
            b.push_record([
                c.device.clone(),
                dtype.clone(),
                format!("{:.4}", peak.value),
                fmt(bw, 1),
                fmt(c.ridge(dtype), 2),
                fmt(batch, 1),
                read.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
    }
    println!("{}", b.build().with(Style::rounded()));
    for c in &ceilings {
        let bw = c.bandwidth.as_ref();
        println!(
            "{} ({}): bandwidth {} ({}); peaks: {}",
            c.device,
            c.name,
            fmt(bw.map(|b| b.value), 1),
            bw.map_or("none measured", |b| b.source.as_str()),
            c.peaks
                .iter()
                .map(|(d, p)| format!("{d} {:.4} TFLOP/s ({})", p.value, p.source))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(m) = model {
            match (c.peak(&args.dtype), decode_batch(c, &args.dtype, m)) {
                (Some((used, _)), Some(batch)) => {
                    let weights = m.total_params * m.bytes_per_param;
                    let token_s = c.bandwidth.as_ref().map(|b| weights / (b.value * 1e9));
                    println!(
                        "  decode, {:.3e} params ({:.3e} active), {} B/param, {} peak{}: compute bound from batch {:.1}; one step reads {:.1} GB of weights{}{}",
                        m.total_params,
                        m.active_params,
                        m.bytes_per_param,
                        used,
                        if used == args.dtype { String::new() } else { format!(" (no {} peak here)", args.dtype) },
                        batch,
                        weights / 1e9,
                        token_s.map_or(String::new(), |s| format!(", {:.1} ms at the measured bandwidth", s * 1e3)),
                        if c.memory_bytes > 0 && weights > c.memory_bytes as f64 {
                            format!("; the weights do not fit in its {:.1} GB", c.memory_bytes as f64 / 1e9)
                        } else {
                            String::new()
                        }
                    );
                }
                _ => println!(
                    "  decode: no {} or f32 peak and bandwidth measured",
                    args.dtype
                ),
            }
        }
    }
    let sources: Vec<&RunReport> = input.iter().chain([&measured.report]).collect();
    for c in &ceilings {
        let mut rows = Vec::new();
        for report in &sources {
            for info in report
                .devices
                .iter()
                .filter(|i| baseline::device_key(i) == c.kind)
            {
                rows.extend(place(c, &report.results, &info.key()));
            }
        }
        if rows.is_empty() {
            continue;
        }
        let mut b = Builder::default();
        b.push_record(["result", "FLOP/B", "achieved", "attainable", "% attainable"]);
        for p in rows {
            let unit = if p.intensity > 0.0 { "TFLOP/s" } else { "GB/s" };
            b.push_record([
                p.key,
                format!("{:.2}", p.intensity),
                format!("{:.4} {unit}", p.achieved),
                format!("{:.4} {unit}", p.attainable),
                format!("{:.1}", p.pct_of_attainable),
            ]);
        }
        println!(
            "{} roofline:\n{}",
            c.device,
            b.build().with(Style::rounded())
        );
    }
    let mut failed = measured.failed;
    if let (Some(layer), Some(dtype)) = (&layer, sweep_dtype) {
        let json = args.json.as_deref();
        let merged = |sweeps: &[BatchSweep], runs: &[RunReport]| {
            let mut doc = measured.report.clone();
            doc.results
                .extend(runs.iter().flat_map(|r| r.results.iter().cloned()));
            doc.sweeps = sweeps.to_vec();
            doc
        };
        let save = |sweeps: &[BatchSweep], runs: &[RunReport]| match json {
            Some(path) => run::save(&merged(sweeps, runs), path).map_err(fail),
            None => Ok(()),
        };
        match knee::sweep(layer, &args.sweep, dtype, &args.backend, &ceilings, save) {
            Ok((sweeps, runs)) => {
                for s in &sweeps {
                    knee::print(s);
                    failed |= s.points.is_empty();
                }
                failed |= runs
                    .iter()
                    .flat_map(|r| &r.results)
                    .any(|r| matches!(r.status, Status::Failed | Status::Error));
            }
            Err(code) => return code,
        }
    }
    if failed {
        ExitCode::from(run::FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ceilings(peak: f64, gbs: f64) -> Ceilings {
        let c = |value| Ceiling {
            value,
            source: "test".into(),
        };
        Ceilings {
            device: "x:0".into(),
            name: "x".into(),
            kind: "x".into(),
            memory_bytes: 80_000_000_000,
            bandwidth: Some(c(gbs)),
            peaks: [("f32".to_string(), c(peak))].into(),
        }
    }

    #[test]
    fn ridge_attainable_and_decode_batch() {
        // 100 TFLOP/s over 2000 GB/s: ridge 50 FLOP/B.
        let c = ceilings(100.0, 2000.0);
        assert!((c.ridge("f32").unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(c.peak("bf16").map(|p| p.0), Some("f32"));
        assert!((c.attainable("f32", 10.0).unwrap() - 20.0).abs() < 1e-9);
        assert!((c.attainable("f32", 1000.0).unwrap() - 100.0).abs() < 1e-9);
        let dense = Model {
            total_params: 70e9,
            active_params: 70e9,
            bytes_per_param: 2.0,
        };
        assert!((decode_batch(&c, "bf16", dense).unwrap() - 50.0).abs() < 1e-9);
        let moe = Model {
            active_params: 7e9,
            ..dense
        };
        assert!((decode_batch(&c, "bf16", moe).unwrap() - 500.0).abs() < 1e-9);
        assert!((c.read_all_memory_s().unwrap() - 0.04).abs() < 1e-12);
    }

    #[test]
    fn counts_parse_with_suffixes() {
        assert_eq!(parse_count("70B"), Ok(70e9));
        assert_eq!(parse_count("70e9"), Ok(70e9));
        assert_eq!(parse_count("1.5T"), Ok(1.5e12));
        assert!(parse_count("70X").is_err());
        assert!(parse_count("-1").is_err());
        assert!(parse_count("").is_err());
    }
}
