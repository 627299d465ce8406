//! Figures that only a pair of cases in one run can give: a weight-quantised GEMM's time
//! against the same-shape GEMM of the same dtype on the same device (its ideal is the byte
//! ratio), and its bandwidth against the best stream bandwidth the run measured there.

use crate::results::{CaseResult, Status};

fn median(r: &CaseResult) -> Option<f64> {
    (r.status == Status::Passed)
        .then_some(r.timing.as_ref()?.median_s)
        .filter(|&t| t > 0.0)
}

/// `key=value` of a printed shape.
fn key(shape: &str, k: &str) -> Option<u64> {
    shape
        .split(',')
        .find_map(|p| p.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
}

/// One line per passed `gemm.wq` case that has a dense twin in the run.
pub fn weight_quant(results: &[CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    for wq in results.iter().filter(|r| r.workload == "gemm.wq") {
        let Some(t_wq) = median(wq) else { continue };
        let (Some(m), Some(n), Some(k)) = (
            key(&wq.shape, "m"),
            key(&wq.shape, "n"),
            key(&wq.shape, "k"),
        ) else {
            continue;
        };
        let dense_shape = format!("m={m},n={n},k={k}");
        // The device's best dense GEMM of this shape and dtype (vendor where it has one).
        let dense = results
            .iter()
            .filter(|r| {
                r.workload == "gemm"
                    && r.device == wq.device
                    && r.dtype == wq.dtype
                    && r.shape == dense_shape
            })
            .filter_map(|r| median(r).map(|t| (r, t)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((dense, t_dense)) = dense else {
            continue;
        };
        let bytes = |r: &CaseResult| r.metrics.as_ref().map_or(0.0, |m| m.bytes);
        let ideal = bytes(dense) / bytes(wq).max(1.0);
        let mut line = format!(
            "{} gemm.wq {} {}: {:.2}x the {} GEMM ({}: {} -> {}; ideal {:.2}x by bytes)",
            wq.device,
            wq.shape,
            wq.dtype,
            t_dense / t_wq,
            wq.dtype,
            dense.variant,
            crate::output::human_time(t_dense),
            crate::output::human_time(t_wq),
            ideal
        );
        let stream = results
            .iter()
            .filter(|r| r.device == wq.device && r.workload.starts_with("stream."))
            .filter(|r| r.status == Status::Passed)
            .filter_map(|r| r.metrics.as_ref().filter(|m| !m.cache_resident)?.gbs)
            .fold(0.0, f64::max);
        if let (true, Some(gbs)) = (stream > 0.0, wq.metrics.as_ref().and_then(|m| m.gbs)) {
            line.push_str(&format!(
                ", {gbs:.1} GB/s = {:.0}% of this run's stream bandwidth",
                100.0 * gbs / stream
            ));
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn shape_keys_parse_by_name_not_prefix() {
        let s = "bits=4,m=16,n=4096,k=4096,group=128";
        assert_eq!(key(s, "m"), Some(16));
        assert_eq!(key(s, "k"), Some(4096));
        assert_eq!(key(s, "n"), Some(4096));
        assert_eq!(key(s, "x"), None);
    }
}
