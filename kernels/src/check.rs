//! Validation against the f64 reference, and tolerances that follow from the dtype and
//! the length of the reduction rather than from a hand-tuned constant.

use halbench_hal::DType;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a case's output compared with the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Validation {
    pub passed: bool,
    /// Output elements compared (all of them for small cases, a sample for large ones).
    pub checked: u64,
    pub failures: u64,
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    /// The first element outside its tolerance, described.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
}

/// Unit roundoff of a dtype: the largest relative error of one rounding.
pub fn unit_roundoff(dtype: DType) -> f64 {
    dtype.unit_roundoff()
}

/// Tolerance for one output of a reduction of `len` terms whose absolute values sum to
/// `magnitude`, accumulated in f32 and rounded once to `out`: the final rounding plus the
/// accumulation error, which grows as sqrt(len) for any reasonable summation order.
pub fn reduction_tolerance(out: DType, reference: f64, magnitude: f64, len: usize) -> f64 {
    let acc = unit_roundoff(DType::F32);
    2.0 * unit_roundoff(out) * reference.abs()
        + 4.0 * (len as f64).sqrt() * acc * magnitude
        + f64::MIN_POSITIVE
}

/// Tolerance for a long sum of `terms` accumulated in f32 in any reasonable order. Each
/// addition rounds by at most u times the running sum, and round-to-nearest errors are
/// unbiased, so the total behaves like a random walk of size u·sqrt(Σ S_k²) over the
/// running sums S_k of a sequential sum (blocked and pairwise orders have smaller running
/// sums). Eight of those, plus the rounding of each term, stays tight enough to catch a
/// kernel that drops even a small share of the terms, where the worst-case bound
/// (n·u·Σ|t|) would exceed the sum itself.
pub fn sum_tolerance(reference: f64, terms: impl Iterator<Item = f64>) -> f64 {
    let u = unit_roundoff(DType::F32);
    let (mut running, mut walk, mut own) = (0.0f64, 0.0f64, 0.0f64);
    for t in terms {
        running += t;
        walk += running * running;
        own += t * t;
    }
    2.0 * u * reference.abs() + 8.0 * u * (walk + own).sqrt() + f64::MIN_POSITIVE
}

/// Collects comparisons into a [`Validation`].
#[derive(Debug, Default)]
pub struct Checker {
    v: Option<Validation>,
}

impl Checker {
    pub fn new() -> Self {
        Checker {
            v: Some(Validation {
                passed: true,
                checked: 0,
                failures: 0,
                max_abs_err: 0.0,
                max_rel_err: 0.0,
                first_failure: None,
            }),
        }
    }

    /// Compares one element; `what` describes it if it fails.
    pub fn check(&mut self, got: f64, want: f64, tolerance: f64, what: impl FnOnce() -> String) {
        let Some(v) = self.v.as_mut() else { return };
        let err = (got - want).abs();
        v.checked += 1;
        if err.is_finite() {
            v.max_abs_err = v.max_abs_err.max(err);
            if want != 0.0 {
                v.max_rel_err = v.max_rel_err.max(err / want.abs());
            }
        }
        // NaN compares false: a NaN output fails.
        let within = err <= tolerance;
        if !within {
            v.passed = false;
            v.failures += 1;
            if v.first_failure.is_none() {
                v.first_failure = Some(format!(
                    "{}: got {got}, expected {want} (tolerance {tolerance:.3e})",
                    what()
                ));
            }
        }
    }

    pub fn finish(mut self) -> Validation {
        let mut v = self.v.take().unwrap_or_else(|| Checker::new().finish());
        if v.checked == 0 {
            v.passed = false;
            v.first_failure = Some("nothing was checked".into());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_nan_and_large_errors() {
        let mut c = Checker::new();
        c.check(1.0, 1.0, 0.0, || "exact".into());
        c.check(f64::NAN, 1.0, 1.0, || "nan".into());
        c.check(2.0, 1.0, 0.5, || "far".into());
        let v = c.finish();
        assert!(!v.passed);
        assert_eq!((v.checked, v.failures), (3, 2));
        assert!(v.first_failure.unwrap().starts_with("nan"));
    }

    #[test]
    fn sum_tolerance_catches_a_dropped_percent() {
        let mut rng = crate::data::Rng::new(3);
        let terms: Vec<f64> = (0..1_000_000)
            .map(|_| f64::from(rng.value() * rng.value()))
            .collect();
        let sum: f64 = terms.iter().sum();
        let tol = sum_tolerance(sum, terms.iter().copied());
        // An f32 sequential sum is within it...
        let f32_sum: f32 = terms.iter().map(|&t| t as f32).sum();
        assert!(
            (f64::from(f32_sum) - sum).abs() <= tol,
            "{f32_sum} vs {sum}, tol {tol}"
        );
        // ...and dropping 1% of the terms is not.
        let dropped: f64 = terms.iter().step_by(100).sum();
        assert!(dropped.abs() > tol, "dropped {dropped}, tol {tol}");
    }

    #[test]
    fn tolerance_grows_with_reduction_length_and_dtype() {
        let short = reduction_tolerance(DType::F32, 1.0, 10.0, 16);
        let long = reduction_tolerance(DType::F32, 1.0, 10.0, 4096);
        assert!(long > short);
        assert!(reduction_tolerance(DType::BF16, 1.0, 0.0, 1) > short);
    }
}
