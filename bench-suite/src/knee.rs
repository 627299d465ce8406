//! The decode batch knee, measured: one model layer's decode step timed at batch
//! 1, 2, 4, … on each device, beside the roofline formula's prediction.
//!
//! ```text
//!   time per step │                          ╱  compute bound: step time grows with batch
//!                 │ ──────────────────────·─╱
//!                 │  floor: the weights   knee (step time twice the single-token step's)
//!                 └──────────────────────────── batch (log)
//! ```
//!
//! A step is the layer's weight GEMMs at `m = batch` plus its decode attention over
//! `batch` sequences of the given context, each case validated and timed by the harness
//! like any other; the step's time is the sum of its cases' medians (fastest passing
//! variant of each). A routed (mixture-of-experts) GEMM runs once per expert the batch
//! touches, `E·(1 − (1 − top_k/E)^batch)` of them under uniform routing, each on its
//! share of the tokens: the time of one expert's GEMM at that share, times that count.
//! The sweep stops where time per token stops falling (by less than 10% from the batch
//! before, the knee passed) or at `--max-batch`.

mod layer;

use std::process::ExitCode;

use clap::Args;
use halbench_hal::DType;
use halbench_kernels::Shape;
use tabled::builder::Builder;
use tabled::settings::Style;

pub use layer::{parse_gemm, parse_heads, Heads, Layer, LayerGemm, Preset, Routing};

use crate::results::{BatchSweep, CaseResult, RunReport, Status, SweepPoint};
use crate::roofline::{decode_batch, Ceilings, Model};
use crate::run::{self, RunOptions};

#[derive(Args, Debug, Default)]
pub struct SweepArgs {
    /// Measure the batch knee of a named model layer's decode step.
    #[arg(long, value_enum, conflicts_with = "layer")]
    pub preset: Option<Preset>,
    /// Measure the batch knee of a layer of these GEMMs (`n=…,k=…`, routed to experts:
    /// `n=…,k=…,experts=E,top=K`); repeat for each.
    #[arg(long)]
    pub layer: Vec<String>,
    /// The decode attention of a --layer sweep (`h=…,hkv=…,d=…`); none if not given.
    #[arg(long)]
    pub attention: Option<String>,
    /// Context length of each sequence's decode attention in the sweep.
    #[arg(long, default_value_t = 4096)]
    pub context: u64,
    /// The largest batch the sweep tries.
    #[arg(long, default_value_t = 512)]
    pub max_batch: u64,
}

impl SweepArgs {
    /// The layer to sweep, if one was asked for.
    pub fn layer(&self) -> Result<Option<Layer>, String> {
        if self.context == 0 || self.max_batch == 0 {
            return Err("--context and --max-batch must be positive".into());
        }
        if let Some(p) = self.preset {
            return Ok(Some(p.layer()));
        }
        if self.layer.is_empty() {
            return match self.attention {
                Some(_) => Err("--attention needs --layer".into()),
                None => Ok(None),
            };
        }
        Ok(Some(Layer {
            name: "layer".into(),
            gemms: self
                .layer
                .iter()
                .map(|s| parse_gemm(s))
                .collect::<Result<_, _>>()?,
            attention: self.attention.as_deref().map(parse_heads).transpose()?,
            model: None,
        }))
    }
}

/// The cases one step at `batch` runs: each GEMM's shape and how many times the step
/// runs it, then the attention's shape (once).
fn step_cases(layer: &Layer, batch: u64, context: u64) -> Vec<(&'static str, Shape, f64)> {
    let mut cases: Vec<(&'static str, Shape, f64)> = layer
        .gemms
        .iter()
        .map(|g| {
            let (m, times) = g
                .routing
                .map_or((batch, 1.0), |r| (r.rows(batch), r.touched(batch)));
            ("gemm", Shape::Gemm { m, n: g.n, k: g.k }, times)
        })
        .collect();
    if let Some(a) = layer.attention {
        let shape = Shape::Decode {
            b: batch,
            h: a.h,
            hkv: a.hkv,
            l: context,
            d: a.d,
        };
        cases.push(("attention.decode", shape, 1.0));
    }
    cases
}

/// The fastest passing variant of a case on a device: (seconds, FLOPs, bytes).
fn best(
    results: &[CaseResult],
    device: &str,
    workload: &str,
    dtype: DType,
    shape: &str,
) -> Result<(f64, f64, f64), String> {
    let mine: Vec<&CaseResult> = results
        .iter()
        .filter(|r| {
            r.device == device
                && r.workload == workload
                && r.dtype == dtype.name()
                && r.shape == shape
        })
        .collect();
    mine.iter()
        .filter(|r| r.status == Status::Passed)
        .filter_map(|r| Some((r.timing.as_ref()?.median_s, r.metrics.as_ref()?)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(s, m)| (s, m.flops, m.bytes))
        .ok_or_else(|| match mine.first() {
            Some(r) => format!(
                "{workload} {shape}: {} ({})",
                r.status.name(),
                r.reason.as_deref().unwrap_or("no reason given")
            ),
            None => format!("{workload} {shape}: not run on {device}"),
        })
}

/// One batch's step on one device, from the results of its cases.
pub fn point(
    layer: &Layer,
    batch: u64,
    context: u64,
    dtype: DType,
    results: &[CaseResult],
    ceilings: &Ceilings,
) -> Result<SweepPoint, String> {
    let (mut step, mut flops, mut bytes) = (0.0, 0.0, 0.0);
    for (workload, shape, times) in step_cases(layer, batch, context) {
        let (s, f, b) = best(
            results,
            &ceilings.device,
            workload,
            dtype,
            &shape.to_string(),
        )?;
        step += s * times;
        flops += f * times;
        bytes += b * times;
    }
    let bandwidth = ceilings.bandwidth.as_ref().map(|b| b.value * 1e9);
    let peak = ceilings.peak(dtype.name()).map(|(_, p)| p * 1e12);
    Ok(SweepPoint {
        batch,
        step_s: step,
        token_s: step / batch as f64,
        bytes,
        flops,
        pct_bandwidth: bandwidth.map(|bw| 100.0 * bytes / step / bw),
        pct_compute: peak.map(|p| 100.0 * flops / step / p),
    })
}

/// The batch at which the step first takes twice the first point's time, interpolated
/// log-log between the points either side.
pub fn knee(points: &[SweepPoint]) -> Option<f64> {
    let target = 2.0 * points.first()?.step_s;
    let w = points.windows(2).find(|w| w[1].step_s >= target)?;
    let (b0, b1) = ((w[0].batch as f64).ln(), (w[1].batch as f64).ln());
    let (t0, t1) = (w[0].step_s.ln(), w[1].step_s.ln());
    let at = if t1 > t0 {
        (target.ln() - t0) / (t1 - t0)
    } else {
        1.0
    };
    Some((b0 + at.clamp(0.0, 1.0) * (b1 - b0)).exp())
}

/// Why a sweep ends after its last point, if it does.
fn stop(points: &[SweepPoint], max_batch: u64) -> Option<String> {
    let last = points.last()?;
    if last.batch * 2 > max_batch {
        return Some(format!(
            "the largest batch asked for (--max-batch {max_batch})"
        ));
    }
    let flat = points.len() >= 2 && last.token_s > 0.9 * points[points.len() - 2].token_s;
    (flat && knee(points).is_some())
        .then(|| "time per token stopped falling (by less than 10% from the batch before)".into())
}

/// A device's sweep so far.
fn started(layer: &Layer, c: &Ceilings, dtype: DType, context: u64) -> BatchSweep {
    let (total, active) = layer.params();
    let size = dtype.size() as f64;
    BatchSweep {
        device: c.device.clone(),
        dtype: dtype.name().into(),
        layer: layer.to_string(),
        context: if layer.attention.is_some() {
            context
        } else {
            0
        },
        points: Vec::new(),
        floor_s: c
            .bandwidth
            .as_ref()
            .map(|b| active * size / (b.value * 1e9)),
        knee: None,
        predicted_knee: decode_batch(
            c,
            dtype.name(),
            Model {
                total_params: total,
                active_params: active,
                bytes_per_param: size,
            },
        ),
        stopped: String::new(),
    }
}

/// Sweeps `layer` on every device of `ceilings` (the backends in `backend`), calling
/// `save` with the sweeps and the runs so far after each batch.
pub fn sweep(
    layer: &Layer,
    args: &SweepArgs,
    dtype: DType,
    backend: &[String],
    ceilings: &[Ceilings],
    mut save: impl FnMut(&[BatchSweep], &[RunReport]) -> Result<(), ExitCode>,
) -> Result<(Vec<BatchSweep>, Vec<RunReport>), ExitCode> {
    let mut sweeps: Vec<(&Ceilings, BatchSweep)> = ceilings
        .iter()
        .map(|c| (c, started(layer, c, dtype, args.context)))
        .collect();
    let mut runs = Vec::new();
    let mut batch = 1;
    while sweeps.iter().any(|(_, s)| s.stopped.is_empty()) {
        let cases = step_cases(layer, batch, args.context);
        let workload: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
        let outcome = run::execute(&RunOptions {
            backend: backend.to_vec(),
            workload,
            variant: ["tiled", "vendor", "split_kv"].map(String::from).to_vec(),
            dtype: vec![dtype.name().into()],
            shape: cases.iter().map(|c| c.1.to_string()).collect(),
            ..RunOptions::default()
        })?;
        let results = &outcome.report.results;
        for (c, s) in sweeps.iter_mut().filter(|(_, s)| s.stopped.is_empty()) {
            match point(layer, batch, args.context, dtype, results, c) {
                Ok(p) => {
                    s.points.push(p);
                    s.knee = knee(&s.points);
                    if let Some(why) = stop(&s.points, args.max_batch) {
                        s.stopped = why;
                    }
                }
                Err(why) => s.stopped = format!("batch {batch} did not run: {why}"),
            }
        }
        runs.push(outcome.report);
        let done: Vec<BatchSweep> = sweeps.iter().map(|(_, s)| s.clone()).collect();
        save(&done, &runs)?;
        batch *= 2;
    }
    Ok((sweeps.into_iter().map(|(_, s)| s).collect(), runs))
}

fn ms(s: f64) -> String {
    format!("{:.3}", s * 1e3)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

/// The sweep as a table and the knee against the formula's.
pub fn print(s: &BatchSweep) {
    let mut b = Builder::default();
    b.push_record([
        "batch",
        "ms per step",
        "ms per token",
        "% bandwidth",
        "% compute",
    ]);
    for p in &s.points {
        b.push_record([
            p.batch.to_string(),
            ms(p.step_s),
            ms(p.token_s),
            pct(p.pct_bandwidth),
            pct(p.pct_compute),
        ]);
    }
    println!(
        "{} {}, decode step of {}{}:\n{}",
        s.device,
        s.dtype,
        s.layer,
        if s.context > 0 {
            format!(", context {}", s.context)
        } else {
            String::new()
        },
        b.build().with(Style::rounded())
    );
    let batch = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1}"));
    println!(
        "  floor (the single-token weights read once at the measured bandwidth): {} ms; measured knee (step time twice batch 1's): {}; formula (ridge × bytes per weight ÷ 2 × total ÷ active, KV reads left out): {}; stopped: {}",
        s.floor_s.map_or_else(|| "-".into(), ms),
        s.knee.map_or_else(|| "not reached".into(), |k| format!("batch {k:.1}")),
        batch(s.predicted_knee),
        s.stopped
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(batch: u64, step_s: f64) -> SweepPoint {
        SweepPoint {
            batch,
            step_s,
            token_s: step_s / batch as f64,
            bytes: 0.0,
            flops: 0.0,
            pct_bandwidth: None,
            pct_compute: None,
        }
    }

    #[test]
    fn the_knee_is_where_the_step_time_doubles_interpolated_log_log() {
        let flat = [p(1, 1.0), p(2, 1.0), p(4, 1.1), p(8, 1.5)];
        assert_eq!(knee(&flat), None);
        assert_eq!(stop(&flat, 512), None);
        // 1.5 → 3.0 from batch 8 to 16 crosses 2.0 at 8 · 2^(ln(4/3)/ln 2).
        let bent = [p(1, 1.0), p(2, 1.0), p(4, 1.1), p(8, 1.5), p(16, 3.0)];
        let k = knee(&bent).unwrap();
        assert!((k - 8.0 * (4.0f64 / 3.0).log2().exp2()).abs() < 1e-9, "{k}");
        assert!(stop(&bent, 512).unwrap().contains("stopped falling"));
        assert!(stop(&flat, 15).unwrap().contains("--max-batch 15"));
    }

    #[test]
    fn a_step_runs_each_gemm_at_the_batch_and_routed_ones_per_touched_expert() {
        let layer = Preset::DeepSeekMoe.layer();
        let cases = step_cases(&layer, 64, 4096);
        assert_eq!(cases.len(), layer.gemms.len() + 1);
        assert_eq!(cases[0].1.to_string(), "m=64,n=1536,k=7168");
        let expert = &cases[layer.gemms.len() - 1];
        assert_eq!(expert.1.to_string(), "m=3,n=7168,k=2048");
        assert!(expert.2 > 220.0 && expert.2 < 256.0);
        let attention = cases.last().unwrap();
        assert_eq!(attention.0, "attention.decode");
        assert_eq!(attention.1.to_string(), "b=64,h=128,hkv=1,l=4096,d=576");
    }
}
