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

/// The distribution-free 95% confidence interval of the median, from order statistics:
/// the sample median's rank is Binomial(n, ½), so the interval between the sorted samples
/// of ranks n/2 ∓ 0.98·√n (1.96 standard deviations of that binomial, √n/2 each) holds the
/// true median with 95% confidence whatever the distribution of the samples, which for
/// timings is skewed and often bimodal (no normality to assume). `None` below 6 samples,
/// where no such pair of ranks reaches 95%.
pub fn median_interval(sorted: &[f64]) -> Option<(f64, f64)> {
    let n = sorted.len();
    if n < 6 {
        return None;
    }
    let half = 0.98 * (n as f64).sqrt();
    let lo = ((n as f64 / 2.0 - half).floor() as usize).max(1);
    let hi = ((n as f64 / 2.0 + 1.0 + half).ceil() as usize).min(n);
    Some((sorted[lo - 1], sorted[hi - 1]))
}

/// The interval's half-width relative to the median: 0.02 means the median is known to
/// ±2% (95% confidence). Infinite below 6 samples.
pub fn relative_precision(sorted: &[f64]) -> f64 {
    match median_interval(sorted) {
        Some((lo, hi)) => {
            let median = percentile(sorted, 50.0);
            if median > 0.0 {
                (hi - lo) / 2.0 / median
            } else {
                0.0
            }
        }
        None => f64::INFINITY,
    }
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

    #[test]
    fn the_median_interval_uses_binomial_ranks() {
        // n = 10: ranks 5 ∓ 3.1 → 1 and 10 (the classic 97.9% pair for ten samples).
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(median_interval(&ten), Some((1.0, 10.0)));
        // n = 100: ranks 50 ∓ 9.8 → 40 and 61, the textbook pair (Conover).
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(median_interval(&hundred), Some((40.0, 61.0)));
        assert_eq!(median_interval(&ten[..5]), None);
        assert!(relative_precision(&ten[..5]).is_infinite());
        assert!((relative_precision(&hundred) - 10.5 / 50.5).abs() < 1e-12);
    }

    #[test]
    fn the_interval_covers_the_true_median_about_95_percent_of_the_time() {
        // Samples from a skewed distribution with a known median (exponential: ln 2).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let trials = 2000;
        let mut covered = 0;
        for _ in 0..trials {
            let mut x: Vec<f64> = (0..30).map(|_| -(1.0 - uniform()).ln()).collect();
            x.sort_by(f64::total_cmp);
            let (lo, hi) = median_interval(&x).unwrap();
            covered += usize::from(lo <= 2f64.ln() && 2f64.ln() <= hi);
        }
        let rate = covered as f64 / trials as f64;
        assert!((0.93..=0.995).contains(&rate), "coverage {rate}");
    }
}
