//! `halbench compare BASE NEW --round BASE NEW …`: the gate over interleaved rounds.
//!
//! A shared machine's speed drifts (here: up to 2x within a minute), so one base run and
//! one new run, however precise each, can differ by the machine's mood between them.
//! Runs made in rounds — base, new, base, new, … — pair each new run with the base beside
//! it in time; drift then moves a round's ratio either way, while a real change moves
//! every round's the same way. Each round is compared as [`crate::compare::compare`]
//! does; the rounds are then combined per case:
//!
//! - `slower`: every round's ratio is above 1 + t and most rounds are `slower` by their
//!   own interval; `faster` likewise below 1/(1 + t);
//! - `same`: most rounds are `same` and the median ratio is within [1/(1 + t), 1 + t]
//!   (one round that drift pushed across is outvoted);
//! - `ambiguous`: anything else (the rounds disagree, or none is decided);
//! - a status change (broke, fixed, new, missing, untimed) in any round is the verdict.
//!
//! The combined ratio is the median of the rounds', its interval their range.

use crate::compare::{Comparison, Verdict};

/// The rounds of one case combined (`rows` holds that case's comparison in each round).
fn combine(rows: &[&Comparison]) -> Comparison {
    let mut out = rows[0].clone();
    let status_change = [
        Verdict::Broke,
        Verdict::Missing,
        Verdict::New,
        Verdict::Fixed,
        Verdict::Untimed,
    ];
    if let Some(v) = status_change
        .into_iter()
        .find(|v| rows.iter().any(|c| c.verdict == *v))
    {
        out.verdict = v;
        return out;
    }
    let mut ratios: Vec<f64> = rows.iter().filter_map(|c| c.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    let Some(median) = crate::stats::summarize(&ratios).map(|s| s.median) else {
        out.verdict = Verdict::Untimed;
        return out;
    };
    let t = out.threshold;
    let count = |v: Verdict| rows.iter().filter(|c| c.verdict == v).count();
    let most = |v: Verdict| 2 * count(v) > rows.len();
    let (lo, hi) = (ratios[0], ratios[ratios.len() - 1]);
    out.verdict = if lo > 1.0 + t && most(Verdict::Slower) {
        Verdict::Slower
    } else if hi < 1.0 / (1.0 + t) && most(Verdict::Faster) {
        Verdict::Faster
    } else if most(Verdict::Same) && median >= 1.0 / (1.0 + t) && median <= 1.0 + t {
        Verdict::Same
    } else {
        Verdict::Ambiguous
    };
    let medians = |f: fn(&Comparison) -> Option<f64>| {
        let v: Vec<f64> = rows.iter().filter_map(|c| f(c)).collect();
        crate::stats::summarize(&v).map(|s| s.median)
    };
    out.base_median_s = medians(|c| c.base_median_s);
    out.new_median_s = medians(|c| c.new_median_s);
    out.ratio = Some(median);
    out.interval = Some((lo, hi));
    out.rounds = ratios;
    out
}

/// Every case of several rounds, each round's comparisons as `compare` gives them.
pub fn combine_rounds(rounds: &[Vec<Comparison>]) -> Vec<Comparison> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    if rounds.len() == 1 {
        return first.clone();
    }
    let keys: std::collections::BTreeSet<&String> =
        rounds.iter().flatten().map(|c| &c.key).collect();
    keys.into_iter()
        .map(|key| {
            let rows: Vec<&Comparison> = rounds
                .iter()
                .filter_map(|round| round.iter().find(|c| &c.key == key))
                .collect();
            combine(&rows)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ratio: f64, verdict: Verdict) -> Comparison {
        Comparison {
            key: "cpu:0/gemm/tiled/f32/m=1024,n=1024,k=1024".into(),
            verdict,
            base_status: None,
            new_status: None,
            base_median_s: Some(1.0),
            new_median_s: Some(ratio),
            ratio: Some(ratio),
            interval: Some((ratio * 0.97, ratio * 1.03)),
            threshold: 0.2,
            arithmetic: None,
            rounds: Vec::new(),
        }
    }

    fn verdict(rounds: &[(f64, Verdict)]) -> Verdict {
        let rounds: Vec<Vec<Comparison>> = rounds.iter().map(|&(r, v)| vec![row(r, v)]).collect();
        combine_rounds(&rounds)[0].verdict
    }

    #[test]
    fn a_real_slowdown_is_slower_in_every_round() {
        use Verdict::*;
        assert_eq!(
            verdict(&[(2.0, Slower), (1.9, Slower), (1.35, Ambiguous)]),
            Slower
        );
        // One round inside the threshold: not every round agrees.
        assert_eq!(
            verdict(&[(2.0, Slower), (1.1, Same), (1.9, Slower)]),
            Ambiguous
        );
        assert_eq!(
            verdict(&[(0.5, Faster), (0.6, Faster), (0.55, Faster)]),
            Faster
        );
    }

    #[test]
    fn one_round_that_drift_pushed_across_is_outvoted() {
        use Verdict::*;
        // The false alarm seen here: one 1.64x round among quiet ones.
        assert_eq!(verdict(&[(1.02, Same), (1.64, Slower), (0.97, Same)]), Same);
        assert_eq!(
            verdict(&[(1.02, Same), (1.64, Slower), (0.6, Faster)]),
            Ambiguous
        );
        let rounds: Vec<Vec<Comparison>> = [(1.02, Same), (1.64, Slower), (0.97, Same)]
            .iter()
            .map(|&(r, v)| vec![row(r, v)])
            .collect();
        let c = &combine_rounds(&rounds)[0];
        assert_eq!(c.ratio, Some(1.02));
        assert_eq!(c.interval, Some((0.97, 1.64)));
        assert_eq!(c.rounds, vec![0.97, 1.02, 1.64]);
    }

    #[test]
    fn a_status_change_in_any_round_is_the_verdict() {
        use Verdict::*;
        assert_eq!(verdict(&[(1.0, Same), (1.0, Broke), (1.0, Same)]), Broke);
        assert_eq!(verdict(&[(1.0, Same)]), Same);
    }
}
