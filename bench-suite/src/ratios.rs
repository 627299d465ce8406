//! Figures that only a pair of cases in one run can give: a weight-quantised GEMM's time
//! against the same-shape GEMM of the same dtype on the same device, and an 8-bit KV
//! cache's against the same paged decode in the dtype (each ideal is the byte ratio); and
//! each one's bandwidth against the best stream bandwidth the run measured there; and a
//! grouped expert GEMM's time against the same experts launched one by one.

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

/// One line per passed `gemm.wq` case that has a dense twin in the run: the device's
/// best GEMM of that shape and dtype (vendor where it has one).
pub fn weight_quant(results: &[CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    for wq in results.iter().filter(|r| r.workload == "gemm.wq") {
        let (Some(m), Some(n), Some(k)) = (
            key(&wq.shape, "m"),
            key(&wq.shape, "n"),
            key(&wq.shape, "k"),
        ) else {
            continue;
        };
        let dense_shape = format!("m={m},n={n},k={k}");
        out.extend(against_twin(
            results,
            wq,
            ("gemm", None),
            &dense_shape,
            "GEMM",
        ));
    }
    out
}

/// One line per passed `attention.kv8` case that has a twin in the run in the case's
/// dtype: attention.paged at the same layout and batch, or for a dense cache (one page
/// per sequence, all of length l) attention.decode's `naive` at that batch, the same
/// three steps over a contiguous cache.
pub fn kv_cache(results: &[CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    for kv in results.iter().filter(|r| r.workload == "attention.kv8") {
        let Some(paged) = kv.shape.strip_prefix("kv=8,") else {
            continue;
        };
        let line = against_twin(results, kv, ("attention.paged", None), paged, "cache");
        let dense = || {
            let v = |k| key(&kv.shape, k);
            let (page, l, lmin) = (v("page")?, v("l")?, v("lmin")?);
            let (b, h, hkv, d) = (v("b")?, v("h")?, v("hkv")?, v("d")?);
            (page >= l && lmin == l).then(|| format!("b={b},h={h},hkv={hkv},l={l},d={d}"))
        };
        let twin = ("attention.decode", Some("naive"));
        out.extend(line.or_else(|| against_twin(results, kv, twin, &dense()?, "dense cache")));
    }
    out
}

/// One line per passed `gemm.grouped` case of the `grouped` variant with its `loop` twin
/// in the run: the speedup of one launch over one per expert, and the routing's spread.
pub fn grouped(results: &[CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    for g in results
        .iter()
        .filter(|r| r.workload == "gemm.grouped" && r.variant == "grouped")
    {
        let Some(t_grouped) = median(g) else { continue };
        let Some(t_loop) = results
            .iter()
            .find(|r| {
                r.workload == g.workload
                    && r.variant == "loop"
                    && r.device == g.device
                    && r.dtype == g.dtype
                    && r.shape == g.shape
            })
            .and_then(median)
        else {
            continue;
        };
        let mut line = format!(
            "{} gemm.grouped {} {}: grouped {:.2}x the loop ({} -> {})",
            g.device,
            g.shape,
            g.dtype,
            t_loop / t_grouped,
            crate::output::human_time(t_loop),
            crate::output::human_time(t_grouped)
        );
        if let Some(load) = g.metrics.as_ref().and_then(|m| m.expert_load) {
            line.push_str(&format!(
                "; {} of {} experts got tokens ({} launches -> 1), max/mean rows {:.2}",
                load.active,
                load.experts,
                load.active,
                load.imbalance()
            ));
        }
        out.push(line);
    }
    out
}

/// `case`'s time against the fastest passed case of the twin workload (and variant, when
/// given) at `twin_shape` on the same device and dtype, with the ideal by bytes and the case's share of the run's
/// stream bandwidth there.
fn against_twin(
    results: &[CaseResult],
    case: &CaseResult,
    (twin_workload, twin_variant): (&str, Option<&str>),
    twin_shape: &str,
    noun: &str,
) -> Option<String> {
    let t_case = median(case)?;
    let (twin, t_twin) = results
        .iter()
        .filter(|r| {
            r.workload == twin_workload
                && twin_variant.is_none_or(|v| r.variant == v)
                && r.device == case.device
                && r.dtype == case.dtype
                && r.shape == twin_shape
        })
        .filter_map(|r| median(r).map(|t| (r, t)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let bytes = |r: &CaseResult| r.metrics.as_ref().map_or(0.0, |m| m.bytes);
    let ideal = bytes(twin) / bytes(case).max(1.0);
    let mut line = format!(
        "{} {} {} {} {}: {:.2}x the {} {noun} ({}: {} -> {}; ideal {:.2}x by bytes)",
        case.device,
        case.workload,
        case.variant,
        case.shape,
        case.dtype,
        t_twin / t_case,
        case.dtype,
        twin.variant,
        crate::output::human_time(t_twin),
        crate::output::human_time(t_case),
        ideal
    );
    let stream = results
        .iter()
        .filter(|r| r.device == case.device && r.workload.starts_with("stream."))
        .filter(|r| r.status == Status::Passed)
        .filter_map(|r| r.metrics.as_ref().filter(|m| !m.cache_resident)?.gbs)
        .fold(0.0, f64::max);
    if let (true, Some(gbs)) = (stream > 0.0, case.metrics.as_ref().and_then(|m| m.gbs)) {
        line.push_str(&format!(
            ", {gbs:.1} GB/s = {:.0}% of this run's stream bandwidth",
            100.0 * gbs / stream
        ));
    }
    Some(line)
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
