//! Collectives (`collective.*`): the figures and the launch, before the transport.
//!
//! The figures follow nccl-tests (its PERFORMANCE.md), so a halbench row can be set beside
//! an `all_reduce_perf` line. For an operation on `n` ranks of `S` bytes taking `t`:
//!
//! ```text
//!   algbw = S / t
//!   busbw = algbw × factor(n)
//!     all_reduce               2 (n − 1) / n
//!     all_gather, reduce_scatter, all_to_all   (n − 1) / n
//!     broadcast, reduce        1
//! ```
//!
//! `S` is the size nccl-tests prints: the whole buffer of one rank (for all_gather the
//! gathered output, for reduce_scatter the input being scattered, for all_to_all what one
//! rank sends to all). busbw is the bandwidth each rank's busiest link must carry for a
//! ring to finish in `t`, so it is comparable with the link's figure whatever `n`.
//!
//! Ranks come from the launcher, read by [`Launch::from_env`] (Slurm's srun, Open MPI's
//! mpirun, PMI-based launchers such as MPICH's hydra, and torchrun); `docs/scale.md`
//! says how NCCL/HCCL are bootstrapped from them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod reference;
pub use reference::reference;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Collective {
    AllReduce,
    AllGather,
    ReduceScatter,
    AllToAll,
    Broadcast,
    Reduce,
}

impl Collective {
    pub const ALL: [Collective; 6] = [
        Collective::AllReduce,
        Collective::AllGather,
        Collective::ReduceScatter,
        Collective::AllToAll,
        Collective::Broadcast,
        Collective::Reduce,
    ];

    /// The workload name.
    pub fn workload(self) -> &'static str {
        match self {
            Collective::AllReduce => "collective.all_reduce",
            Collective::AllGather => "collective.all_gather",
            Collective::ReduceScatter => "collective.reduce_scatter",
            Collective::AllToAll => "collective.all_to_all",
            Collective::Broadcast => "collective.broadcast",
            Collective::Reduce => "collective.reduce",
        }
    }

    /// `S`, the bytes nccl-tests' size column shows, for an operation whose every rank
    /// passes `input_bytes` to it (all_gather's S is the gathered output, n × input).
    pub fn message_bytes(self, ranks: u32, input_bytes: u64) -> u64 {
        match self {
            Collective::AllGather => input_bytes * u64::from(ranks),
            _ => input_bytes,
        }
    }

    /// busbw / algbw on `ranks` ranks (nccl-tests' factors); 0 ranks is an error.
    pub fn bus_factor(self, ranks: u32) -> Result<f64, String> {
        if ranks == 0 {
            return Err("a collective needs at least one rank".into());
        }
        let n = f64::from(ranks);
        Ok(match self {
            Collective::AllReduce => 2.0 * (n - 1.0) / n,
            Collective::AllGather | Collective::ReduceScatter | Collective::AllToAll => {
                (n - 1.0) / n
            }
            Collective::Broadcast | Collective::Reduce => 1.0,
        })
    }
}

/// The figures a collective's result carries, with the factor that made busbw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CollectiveFigures {
    pub collective: Collective,
    pub ranks: u32,
    /// `S`, the bytes nccl-tests' size column shows.
    pub bytes: u64,
    pub seconds: f64,
    /// 1e9 bytes per second.
    pub algbw_gbs: f64,
    pub bus_factor: f64,
    pub busbw_gbs: f64,
}

impl CollectiveFigures {
    pub fn new(
        collective: Collective,
        ranks: u32,
        bytes: u64,
        seconds: f64,
    ) -> Result<Self, String> {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(format!(
                "a collective's time must be positive, not {seconds}"
            ));
        }
        let bus_factor = collective.bus_factor(ranks)?;
        let algbw_gbs = bytes as f64 / seconds / 1e9;
        Ok(CollectiveFigures {
            collective,
            ranks,
            bytes,
            seconds,
            algbw_gbs,
            bus_factor,
            busbw_gbs: algbw_gbs * bus_factor,
        })
    }

    /// The result row's metrics: `bytes` and `gbs` are S and algbw, so `compare` and the
    /// table read a collective like any bandwidth case; busbw rides in `collective`.
    pub fn metrics(&self) -> crate::results::Metrics {
        crate::results::Metrics {
            flops: 0.0,
            bytes: self.bytes as f64,
            gbs: Some(self.algbw_gbs),
            tflops: None,
            best_gbs: None,
            best_tflops: None,
            gflops_per_joule: None,
            gb_per_joule: None,
            pct_of_peak: None,
            peak_source: None,
            arithmetic_intensity: None,
            us_per_launch: None,
            cache_resident: false,
            expert_load: None,
            collective: Some(self.clone()),
        }
    }
}

/// The launchers whose rank variables are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Launcher {
    Torchrun,
    Openmpi,
    Pmi,
    Slurm,
}

/// Where a launcher placed this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Launch {
    pub rank: u32,
    pub world: u32,
    /// The rank among this node's processes (picks the GPU).
    pub local_rank: Option<u32>,
    /// Whose variables said so.
    pub launcher: Launcher,
    /// Rank 0's address, where the launcher gives one (torchrun's MASTER_ADDR:PORT).
    pub root_address: Option<String>,
}

impl Launch {
    /// This process's launch, if a launcher started it.
    pub fn from_env() -> Result<Option<Launch>, String> {
        Self::from(|k| std::env::var(k).ok())
    }

    /// The launch in an environment. A launcher's variables that disagree with
    /// themselves (rank ≥ world, not a number) are an error naming them, not a guess.
    pub fn from(env: impl Fn(&str) -> Option<String>) -> Result<Option<Launch>, String> {
        // Most specific first: torchrun inside srun sets both, and its ranks are the
        // ones the program uses.
        const LAUNCHERS: [(Launcher, &str, &str, &str); 4] = [
            (Launcher::Torchrun, "RANK", "WORLD_SIZE", "LOCAL_RANK"),
            (
                Launcher::Openmpi,
                "OMPI_COMM_WORLD_RANK",
                "OMPI_COMM_WORLD_SIZE",
                "OMPI_COMM_WORLD_LOCAL_RANK",
            ),
            (Launcher::Pmi, "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
            (
                Launcher::Slurm,
                "SLURM_PROCID",
                "SLURM_NTASKS",
                "SLURM_LOCALID",
            ),
        ];
        for (launcher, rank, world, local) in LAUNCHERS {
            let (Some(r), Some(w)) = (env(rank), env(world)) else {
                continue;
            };
            let number = |key: &str, v: &str| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("{launcher:?}: {key}={v:?} is not a rank count"))
            };
            let (r, w) = (number(rank, &r)?, number(world, &w)?);
            if w == 0 || r >= w {
                return Err(format!("{launcher:?}: {rank}={r} is not below {world}={w}"));
            }
            let local_rank = env(local).map(|v| number(local, &v)).transpose()?;
            let root_address = match (env("MASTER_ADDR"), env("MASTER_PORT")) {
                (Some(a), Some(p)) if launcher == Launcher::Torchrun => Some(format!("{a}:{p}")),
                _ => None,
            };
            return Ok(Some(Launch {
                rank: r,
                world: w,
                local_rank,
                launcher,
                root_address,
            }));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// nccl-tests' own figures: PERFORMANCE.md's worked formulas, checked on the rank
    /// counts of one DGX node and of two.
    #[test]
    fn bus_factors_are_nccl_tests_formulas() {
        let f = |c: Collective, n| c.bus_factor(n).unwrap();
        assert_eq!(f(Collective::AllReduce, 8), 1.75);
        assert_eq!(f(Collective::AllReduce, 16), 1.875);
        assert_eq!(f(Collective::AllReduce, 2), 1.0);
        assert_eq!(f(Collective::AllGather, 8), 0.875);
        assert_eq!(f(Collective::ReduceScatter, 4), 0.75);
        assert_eq!(f(Collective::AllToAll, 8), 0.875);
        assert_eq!(f(Collective::Broadcast, 8), 1.0);
        assert_eq!(f(Collective::Reduce, 8), 1.0);
        // One rank moves nothing between ranks.
        assert_eq!(f(Collective::AllReduce, 1), 0.0);
        assert!(Collective::AllReduce.bus_factor(0).is_err());
    }

    #[test]
    fn figures_from_a_timed_operation() {
        // 1 GiB all_reduce on 8 ranks in 5 ms: algbw 214.7 GB/s, busbw × 1.75.
        let c = CollectiveFigures::new(Collective::AllReduce, 8, 1 << 30, 5e-3).unwrap();
        assert!((c.algbw_gbs - 214.748_364_8).abs() < 1e-6);
        assert!((c.busbw_gbs - 214.748_364_8 * 1.75).abs() < 1e-6);
        assert!(CollectiveFigures::new(Collective::AllGather, 8, 1, 0.0).is_err());
        assert!(CollectiveFigures::new(Collective::AllGather, 8, 1, f64::NAN).is_err());
        let names: Vec<&str> = Collective::ALL.iter().map(|c| c.workload()).collect();
        assert!(names.contains(&"collective.all_to_all"));
    }

    #[test]
    fn sizes_are_nccl_tests_size_column() {
        assert_eq!(Collective::AllGather.message_bytes(8, 1 << 20), 8 << 20);
        for c in [
            Collective::AllReduce,
            Collective::ReduceScatter,
            Collective::AllToAll,
        ] {
            assert_eq!(c.message_bytes(8, 1 << 20), 1 << 20);
        }
    }

    /// A collective's row is a result document's row: it serializes with its figures and
    /// reads back through the same types `compare` and `table` use.
    #[test]
    fn a_collective_row_round_trips_with_its_figures() {
        let f = CollectiveFigures::new(Collective::AllToAll, 8, 1 << 26, 2e-3).unwrap();
        let m = f.metrics();
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["collective"]["collective"], "all_to_all");
        assert_eq!(json["collective"]["bus_factor"], 0.875);
        let back: crate::results::Metrics = serde_json::from_value(json).unwrap();
        assert_eq!(back.collective, Some(f.clone()));
        assert_eq!(back.gbs, Some(f.algbw_gbs));
        assert!(crate::results::schema_json().contains("busbw_gbs"));
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn launchers_are_read_most_specific_first() {
        let slurm = env(&[
            ("SLURM_PROCID", "5"),
            ("SLURM_NTASKS", "16"),
            ("SLURM_LOCALID", "1"),
        ]);
        let l = Launch::from(slurm).unwrap().unwrap();
        assert_eq!(
            (l.rank, l.world, l.local_rank, l.launcher),
            (5, 16, Some(1), Launcher::Slurm)
        );

        let both = env(&[
            ("SLURM_PROCID", "0"),
            ("SLURM_NTASKS", "2"),
            ("RANK", "3"),
            ("WORLD_SIZE", "8"),
            ("LOCAL_RANK", "3"),
            ("MASTER_ADDR", "node0"),
            ("MASTER_PORT", "29500"),
        ]);
        let l = Launch::from(both).unwrap().unwrap();
        assert_eq!((l.rank, l.world, l.launcher), (3, 8, Launcher::Torchrun));
        assert_eq!(l.root_address.as_deref(), Some("node0:29500"));

        let ompi = env(&[("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2")]);
        assert_eq!(
            Launch::from(ompi).unwrap().unwrap().launcher,
            Launcher::Openmpi
        );
        let pmi = env(&[("PMI_RANK", "0"), ("PMI_SIZE", "4")]);
        assert_eq!(Launch::from(pmi).unwrap().unwrap().world, 4);
        assert_eq!(Launch::from(env(&[])).unwrap(), None);
    }

    #[test]
    fn inconsistent_launcher_variables_are_errors_naming_them() {
        let e = Launch::from(env(&[("SLURM_PROCID", "4"), ("SLURM_NTASKS", "4")])).unwrap_err();
        assert!(
            e.contains("SLURM_PROCID=4 is not below SLURM_NTASKS=4"),
            "{e}"
        );
        let e = Launch::from(env(&[("PMI_RANK", "x"), ("PMI_SIZE", "4")])).unwrap_err();
        assert!(e.contains("PMI_RANK=\"x\""), "{e}");
        let e = Launch::from(env(&[("RANK", "0"), ("WORLD_SIZE", "0")])).unwrap_err();
        assert!(e.contains("Torchrun"), "{e}");
    }
}
