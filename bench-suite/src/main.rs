//! # halbench (the command)
//!
//! The command line: parses arguments into the library's plain options and runs them.
//! `halbench` alone runs the quick suite on every device found.
//!
//! Exit codes: 0 success, 1 a case failed or errored (or a required backend is missing,
//! or a file could not be written), 2 usage errors.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use halbench::{
    commands, compare, paths, progress, registry, report, results, roofline, run, Format,
    RunOptions,
};
use halbench_kernels::{CustomKernel, LaunchShape, Scale};
use paths::PathOption;

#[derive(Parser, Debug)]
#[command(name = "halbench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Load a vendor plugin (a shared library, or a folder of them); repeatable. Also
    /// found: HALBENCH_PLUGIN_PATH, and plugins/ beside the executable.
    #[arg(long, global = true, value_name = "PATH")]
    plugin: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List every backend, available or not, with its devices or the reason it is missing.
    Devices {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run workloads, validate them against the reference, and time them.
    Run(RunArgs),
    /// Run the conformance suite on backends (every case a trial).
    Conformance {
        /// Comma-separated backends (default: all).
        #[arg(long, value_delimiter = ',')]
        backend: Vec<String>,
        /// Run only trials whose name contains this.
        filter: Option<String>,
        /// Run every backend's trials in this process, instead of a worker process per
        /// backend (a driver that crashes then ends the whole suite).
        #[arg(long)]
        in_process: bool,
    },
    /// Compare two result files: faster / same / slower / ambiguous against the threshold
    /// and both runs' precision, and status changes. Exits 1 on a regression (the CI gate).
    Compare {
        base: PathBuf,
        new: PathBuf,
        /// One more round of the same two configurations, measured after the last
        /// (repeatable: base, new, base, new, …). Rounds are judged together: slower only
        /// when every round's ratio is beyond the threshold, so the machine's drift between
        /// two runs cannot raise an alarm on its own.
        #[arg(long = "round", num_args = 2, value_names = ["BASE", "NEW"])]
        round: Vec<PathBuf>,
        /// Smallest change that counts, in percent: a change is slower or faster only when
        /// its whole 95% interval is beyond it, ambiguous when the interval crosses it.
        #[arg(long, default_value_t = compare::DEFAULT_THRESHOLD)]
        threshold: f64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Measure each device's compute peak per dtype (peak.fma) and memory bandwidth
    /// (stream), and place results on its roofline.
    Roofline(roofline::RooflineArgs),
    /// Turn result files into one self-contained HTML page of SVG charts.
    Report {
        /// Result files (halbench run --json).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, default_value = "report.html")]
        out: PathBuf,
    },
    /// Many hosts' results side by side: per device kind and case the fleet median, its
    /// spread and the outlier hosts; hosts worst first. Exits 1 when a host is slower than
    /// the fleet (or broke) on a gated case.
    Fleet {
        /// Result files, one or more per host (halbench run --json).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Smallest deviation from the fleet median that counts, in percent (the robust
        /// threshold is the larger of this and 3.5 × 1.4826 × MAD).
        #[arg(long, default_value_t = halbench::fleet::DEFAULT_FLOOR)]
        threshold: f64,
        /// Gate only cases matching this glob over workload/variant/dtype/shape
        /// (`stream.*`, `gemm/*/f16/*`); repeatable. Default: every case.
        #[arg(long)]
        gate: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also write the fleet page (HTML, self-contained) here.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Print the JSON schema of the results document.
    #[command(hide = true)]
    Schema,
    /// Serve one device for a run (a worker process; the protocol is on stdin/stdout).
    #[command(hide = true, name = "__worker")]
    Worker,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Comma-separated backends (default: every backend found).
    #[arg(long, value_delimiter = ',')]
    pub backend: Vec<String>,
    /// Workload name or glob (`stream.*`, `gemm`); repeatable.
    #[arg(long)]
    pub workload: Vec<String>,
    /// Comma-separated dtypes: f32, f16, bf16, fp8e4m3, fp8e5m2.
    #[arg(long, value_delimiter = ',')]
    pub dtype: Vec<String>,
    /// Sample each case until its median is known to ± this many percent (95%
    /// confidence) or the scale's time cap passes; 0: the scale's fixed sample count.
    /// Default: quick 2, full 1, smoke a fixed 3 samples.
    #[arg(long, value_name = "PERCENT")]
    pub precision: Option<f64>,
    /// The cache state each sample starts from: warm (after a run of the same case) or
    /// cold (after a copy of twice the last-level cache, outside the timed window; one run
    /// a sample). Default: cold for decode (attention.decode/paged/kv8, gemm.wq, GEMM with
    /// M ≤ 16: serving reads their data after the other layers evicted it), warm for the
    /// rest.
    #[arg(long, value_parser = parse_cache)]
    pub cache: Option<halbench_kernels::CacheState>,
    /// Seconds of sampling after which a case stops short of --precision (and says so).
    /// Default: quick 1.5, full 10.
    #[arg(long, value_name = "SECONDS")]
    pub time_cap: Option<f64>,
    /// At least this many samples a case, however slow and whatever the cap (BabelStream
    /// takes 100 runs: set a best figure beside its best with --samples 100). Runs of 1 ms
    /// or more are a sample each, so the best is the fastest run. At most 2000.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(halbench::harness::MAX_SAMPLES)))]
    pub samples: u32,
    /// Comma-separated variants (naive, tiled, vendor, fused, split_kv, default).
    #[arg(long, value_delimiter = ',')]
    pub variant: Vec<String>,
    /// Case sizes: smoke (tests), quick (default), full.
    #[arg(long, default_value = "quick", value_parser = parse_scale)]
    pub scale: Scale,
    /// An explicit shape, `key=value` pairs (`m=1024,n=1024,k=1024`); repeatable.
    #[arg(long)]
    pub shape: Vec<String>,
    /// Write the results document here (atomically).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the results as CSV here (atomically).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// After the run, compare each device with its baseline `DIR/<device-key>.json`
    /// (exit 1 on a regression; a device without one is reported and passes).
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// With --baseline: write this run as the baselines instead of comparing.
    #[arg(long, requires = "baseline")]
    pub update_baseline: bool,
    /// With --baseline: the smallest change that counts, in percent (cases the noise
    /// cannot decide are measured again, more precisely).
    #[arg(long, default_value_t = compare::DEFAULT_THRESHOLD, requires = "baseline")]
    pub threshold: f64,
    /// Your source for a kernel of the kernel ABI, run as its own variant (`user:STEM`)
    /// beside the built-in ones: `NAME=PATH[@threads=16x16,per_group=64x64]`, PATH a
    /// `.cl`, `.cu`, `.spv` or `.comp` (glslc) file; repeatable.
    #[arg(long, value_name = "NAME=PATH")]
    pub kernel: Vec<String>,
    /// Drive every device from this process instead of a worker process per device (for
    /// debugging; a driver that crashes then takes the whole run down).
    #[arg(long)]
    pub in_process: bool,
    /// Seconds a case may take before its worker is killed and the case is an error row.
    /// Default: 120 + 10 × the time cap + the case's work at 1 GFLOP/s and 1 GB/s.
    #[arg(long, value_name = "SECONDS", conflicts_with = "in_process")]
    pub case_timeout: Option<f64>,
    /// Progress on stderr: a bar in a terminal, a line per case elsewhere (auto), or
    /// either one always, or none.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressArg {
    Auto,
    Bar,
    Lines,
    Off,
}

impl ProgressArg {
    fn mode(self) -> progress::Mode {
        match self {
            ProgressArg::Auto => progress::Mode::detect(),
            ProgressArg::Bar => progress::Mode::Bar,
            ProgressArg::Lines => progress::Mode::Lines,
            ProgressArg::Off => progress::Mode::Off,
        }
    }
}

impl RunArgs {
    /// The plain options the library runs from. Errors: a `--kernel` that cannot be read.
    fn into_options(self) -> Result<RunOptions, String> {
        let kernels = self
            .kernel
            .iter()
            .map(|spec| parse_kernel(spec).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RunOptions {
            backend: self.backend,
            workload: self.workload,
            dtype: self.dtype,
            variant: self.variant,
            scale: self.scale,
            shape: self.shape,
            json: self.json,
            csv: self.csv,
            format: self.format,
            baseline: self.baseline,
            update_baseline: self.update_baseline,
            threshold: self.threshold,
            precision: self.precision,
            cache: self.cache,
            time_cap: self.time_cap,
            min_samples: self.samples,
            only: None,
            tighter: false,
            kernels,
            progress: self.progress.mode(),
            isolation: if self.in_process {
                halbench::Isolation::InProcess
            } else {
                halbench::Isolation::Workers
            },
            case_timeout: self.case_timeout,
        })
    }
}

fn parse_cache(s: &str) -> Result<halbench_kernels::CacheState, String> {
    s.parse()
}

/// `NAME=PATH[@LAUNCH]`: a kernel file for canonical kernel NAME, with an optional launch
/// shape (which overrides one written in the file).
fn parse_kernel(spec: &str) -> Result<CustomKernel, String> {
    let (name, rest) = spec
        .split_once('=')
        .ok_or_else(|| format!("--kernel `{spec}`: expected NAME=PATH (gemm_tiled=my_gemm.cl)"))?;
    let name = name.trim();
    let (path, launch) = match rest.rsplit_once('@') {
        Some((p, l)) if l.contains("threads=") => (p, Some(l)),
        _ => (rest, None),
    };
    if !halbench_kernels::sources::known_kernels().any(|k| k == name) {
        return Err(format!(
            "--kernel `{spec}`: `{name}` is not a kernel of the kernel ABI (known: {})",
            halbench_kernels::sources::known_kernels()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let path = std::path::Path::new(path);
    paths::check(&[PathOption::new("--kernel", path, paths::Kind::Input)])?;
    let mut kernel = CustomKernel::from_file(name, path).map_err(|e| e.to_string())?;
    if let Some(l) = launch {
        kernel = kernel
            .with_launch(LaunchShape::parse(l).map_err(|e| format!("--kernel `{spec}`: {e}"))?);
    }
    Ok(kernel)
}

fn run_command(args: RunArgs) -> ExitCode {
    match args.into_options() {
        Ok(options) => run::run(options),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(run::USAGE)
        }
    }
}

fn parse_scale(s: &str) -> Result<Scale, String> {
    s.parse()
}

/// Every path option with what it must be, checked before anything runs.
fn path_options(command: &Command) -> Vec<PathOption<'_>> {
    use paths::Kind::{Folder, Input, Output};
    let mut options = Vec::new();
    match command {
        Command::Run(a) => {
            options.extend(
                a.json
                    .as_deref()
                    .map(|p| PathOption::new("--json", p, Output)),
            );
            options.extend(
                a.csv
                    .as_deref()
                    .map(|p| PathOption::new("--csv", p, Output)),
            );
            options.extend(
                a.baseline
                    .as_deref()
                    .map(|p| PathOption::new("--baseline", p, Folder)),
            );
            // --kernel's path is checked as it is read (parse_kernel), with its NAME.
        }
        Command::Compare {
            base, new, round, ..
        } => {
            options.push(PathOption::new("compare BASE", base, Input));
            options.push(PathOption::new("compare NEW", new, Input));
            options.extend(round.iter().map(|p| PathOption::new("--round", p, Input)));
        }
        Command::Roofline(a) => {
            options.extend(
                a.input
                    .as_deref()
                    .map(|p| PathOption::new("--input", p, Input)),
            );
            options.extend(
                a.json
                    .as_deref()
                    .map(|p| PathOption::new("--json", p, Output)),
            );
        }
        Command::Report { files, out } => {
            options.extend(
                files
                    .iter()
                    .map(|p| PathOption::new("report FILE", p, Input)),
            );
            options.push(PathOption::new("--out", out, Output));
        }
        Command::Fleet { files, html, .. } => {
            options.extend(
                files
                    .iter()
                    .map(|p| PathOption::new("fleet FILE", p, Input)),
            );
            options.extend(
                html.as_deref()
                    .map(|p| PathOption::new("--html", p, Output)),
            );
        }
        Command::Devices { .. }
        | Command::Conformance { .. }
        | Command::Schema
        | Command::Worker => {}
    }
    options
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(command) = &cli.command {
        if let Err(e) = paths::check(&path_options(command)) {
            eprintln!("error: {e}");
            return ExitCode::from(run::USAGE);
        }
    }
    registry::set_plugins(cli.plugin.clone());
    match cli.command {
        None => run::run(RunOptions {
            isolation: halbench::Isolation::Workers,
            ..RunOptions::default()
        }),
        Some(Command::Worker) => halbench::worker::serve(),
        Some(Command::Run(args)) => run_command(args),
        Some(Command::Devices { json }) => commands::devices(json),
        Some(Command::Conformance {
            backend,
            filter,
            in_process,
        }) => commands::conformance(&backend, filter, in_process),
        Some(Command::Compare {
            base,
            new,
            round,
            threshold,
            format,
        }) => commands::compare(&base, &new, &round, threshold, format),
        Some(Command::Roofline(args)) => roofline::command(args),
        Some(Command::Report { files, out }) => report::command(&files, &out),
        Some(Command::Fleet {
            files,
            threshold,
            gate,
            format,
            html,
        }) => commands::fleet(&files, threshold, &gate, format, html.as_deref()),
        Some(Command::Schema) => {
            print!("{}", results::schema_json());
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema must match the Rust types; regenerate with
    /// `cargo run -p halbench -- schema > results/schema.json`.
    #[test]
    fn committed_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../results/schema.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == results::schema_json(),
            "results/schema.json is stale: run `cargo run -p halbench -- schema > results/schema.json`"
        );
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
