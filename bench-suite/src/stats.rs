//! Summary statistics of timing samples.

/// Median (the figure quoted), spread and noise of a set of samples, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p10: f64,
    pub p90: f64,
    /// Coefficient of variation: standard deviation over mean.
    pub cv: f64,
}

/// Percentile by linear interpolation between closest ranks, on sorted data.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// `None` for no samples.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let variance = sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    Some(Summary {
        median: percentile(&sorted, 50.0),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        p10: percentile(&sorted, 10.0),
        p90: percentile(&sorted, 90.0),
        cv: if mean > 0.0 {
            variance.sqrt() / mean
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes() {
        let s = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
        assert!((s.p10 - 1.4).abs() < 1e-12 && (s.p90 - 4.6).abs() < 1e-12);
        assert!((s.cv - (2.0f64).sqrt() / 3.0).abs() < 1e-12);
        assert_eq!(summarize(&[2.0]).unwrap().cv, 0.0);
        assert!(summarize(&[]).is_none());
    }
}
