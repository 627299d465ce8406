//! # halbench (the library)
//!
//! Everything the `halbench` command does, as a library a porter can drive: the harness
//! (one case on one device: prepare, validate, time), statistics, metrics, the result
//! document and its schema, compare, baselines, roofline maths and the report. The binary
//! only parses the command line into these plain types and prints.
//!
//! ```text
//!   registry ─► backends ─► devices ─► select (filters → cases) ─► harness (per case)
//!                                                    │
//!                      results (JSON, atomic) ◄──────┴──► output (table, markdown, CSV)
//! ```
//!
//! A porter's two paths (both in `examples/`): open a device from [`registry`], build a
//! [`halbench_kernels::Case`] whose plan carries a [`halbench_kernels::CustomKernel`], and
//! call [`harness::run_case`]; or implement [`halbench_kernels::Workload`] in their own
//! crate and run its cases the same way. [`run::execute`] runs a whole selection from a
//! [`RunOptions`].

pub mod baseline;
pub mod collective;
pub mod commands;
pub mod compare;
pub mod fleet;
pub mod harness;
pub mod interrupt;
pub mod knee;
pub mod output;
pub mod paths;
pub mod progress;
pub mod ratios;
pub mod registry;
pub mod report;
pub mod results;
pub mod roofline;
pub mod rounds;
pub mod run;
pub mod scheduler;
pub mod select;
pub mod stats;
pub mod supervisor;
pub mod telemetry;
pub mod telemetry_nvml;
pub mod worker;

pub use run::{execute, Isolation, Outcome, RunOptions};

/// What to print on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Markdown,
    Json,
}
