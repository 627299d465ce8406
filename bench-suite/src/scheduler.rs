//! Which scheduler placed this run, read from the environment the scheduler sets.
//!
//! halbench has no transport of its own: a fleet run is one `halbench run` per node,
//! started by Slurm (`deploy/slurm/`) or Kubernetes (`deploy/kubernetes/`). Each result
//! records the identity it was given, so `halbench fleet` can name the node and the job.
//!
//! - Slurm sets `SLURM_JOB_ID`, `SLURM_STEP_ID`, `SLURMD_NODENAME`, `SLURM_PROCID` and
//!   `SLURM_NTASKS` in every task of `srun`.
//! - Kubernetes sets `KUBERNETES_SERVICE_HOST` in every pod and, for an Indexed Job,
//!   `JOB_COMPLETION_INDEX`; the pod, namespace and node names come through the downward
//!   API into `HALBENCH_POD_NAME`, `HALBENCH_POD_NAMESPACE` and `HALBENCH_NODE_NAME`
//!   (the manifest sets them), else the pod name is `HOSTNAME`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scheduler {
    Slurm {
        job_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// The task's rank in the step (`SLURM_PROCID`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tasks: Option<u32>,
    },
    Kubernetes {
        pod: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// The Indexed Job's completion index.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
    },
}

impl Scheduler {
    /// The node the scheduler says this ran on, where it says.
    pub fn node(&self) -> Option<&str> {
        match self {
            Scheduler::Slurm { node, .. } | Scheduler::Kubernetes { node, .. } => node.as_deref(),
        }
    }
}

/// The scheduler identity in this process's environment.
pub fn detect() -> Option<Scheduler> {
    detect_from(|key| std::env::var(key).ok())
}

/// The scheduler identity in an environment (`env` looks a variable up); empty values
/// count as unset. Slurm wins when both are present (a Slurm step inside a pod).
pub fn detect_from(env: impl Fn(&str) -> Option<String>) -> Option<Scheduler> {
    let get = |key: &str| {
        env(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let number = |key: &str| get(key).and_then(|v| v.parse::<u32>().ok());
    if let Some(job_id) = get("SLURM_JOB_ID").or_else(|| get("SLURM_JOBID")) {
        return Some(Scheduler::Slurm {
            job_id,
            step_id: get("SLURM_STEP_ID").or_else(|| get("SLURM_STEPID")),
            node: get("SLURMD_NODENAME"),
            task: number("SLURM_PROCID"),
            tasks: number("SLURM_NTASKS").or_else(|| number("SLURM_NPROCS")),
        });
    }
    get("KUBERNETES_SERVICE_HOST")?;
    let pod = get("HALBENCH_POD_NAME").or_else(|| get("HOSTNAME"))?;
    Some(Scheduler::Kubernetes {
        pod,
        namespace: get("HALBENCH_POD_NAMESPACE"),
        node: get("HALBENCH_NODE_NAME"),
        index: number("JOB_COMPLETION_INDEX"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn a_slurm_task_is_named_by_job_step_node_and_rank() {
        let s = detect_from(env(&[
            ("SLURM_JOB_ID", "4242"),
            ("SLURM_STEP_ID", "0"),
            ("SLURMD_NODENAME", "gpu017"),
            ("SLURM_PROCID", "3"),
            ("SLURM_NTASKS", "8"),
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
        ]));
        assert_eq!(
            s,
            Some(Scheduler::Slurm {
                job_id: "4242".into(),
                step_id: Some("0".into()),
                node: Some("gpu017".into()),
                task: Some(3),
                tasks: Some(8),
            })
        );
        assert_eq!(s.unwrap().node(), Some("gpu017"));
    }

    #[test]
    fn an_indexed_job_pod_is_named_by_pod_node_and_index() {
        let s = detect_from(env(&[
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
            ("HOSTNAME", "halbench-2-abcde"),
            ("HALBENCH_NODE_NAME", "node-b"),
            ("HALBENCH_POD_NAMESPACE", "bench"),
            ("JOB_COMPLETION_INDEX", "2"),
        ]));
        assert_eq!(
            s,
            Some(Scheduler::Kubernetes {
                pod: "halbench-2-abcde".into(),
                namespace: Some("bench".into()),
                node: Some("node-b".into()),
                index: Some(2),
            })
        );
    }

    #[test]
    fn no_scheduler_or_empty_values_is_none_and_bad_numbers_are_left_out() {
        assert_eq!(detect_from(env(&[])), None);
        assert_eq!(detect_from(env(&[("SLURM_JOB_ID", " ")])), None);
        assert_eq!(detect_from(env(&[("HOSTNAME", "laptop")])), None);
        let s = detect_from(env(&[("SLURM_JOB_ID", "7"), ("SLURM_PROCID", "x")]));
        assert!(matches!(s, Some(Scheduler::Slurm { task: None, .. })));
    }

    #[test]
    fn the_identity_round_trips_through_json_tagged_by_kind() {
        let s = detect_from(env(&[("SLURM_JOB_ID", "9"), ("SLURM_PROCID", "1")])).unwrap();
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(text, r#"{"kind":"slurm","job_id":"9","task":1}"#);
        assert_eq!(serde_json::from_str::<Scheduler>(&text).unwrap(), s);
    }
}
