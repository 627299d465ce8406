//! The host reference every collective transport is validated against: what each rank
//! holds after the operation, from what each rank held before. Sums are in f64 and
//! rounded once, so the reference does not depend on a ring's or a tree's order.

use super::Collective;

/// Each rank's output for `inputs[r]`, rank r's input; all inputs the same length. Rooted
/// operations (broadcast, reduce) have rank 0 as the root; reduce's non-root ranks get
/// nothing, as NCCL leaves their receive buffers undefined.
pub fn reference(collective: Collective, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, String> {
    let n = inputs.len();
    let len = inputs
        .first()
        .map(Vec::len)
        .ok_or("a collective needs at least one rank")?;
    if let Some((r, v)) = inputs.iter().enumerate().find(|(_, v)| v.len() != len) {
        return Err(format!(
            "rank {r} holds {} elements, rank 0 holds {len}",
            v.len()
        ));
    }
    let chunked = matches!(collective, Collective::ReduceScatter | Collective::AllToAll);
    if chunked && len % n != 0 {
        return Err(format!(
            "{collective:?} on {n} ranks needs a multiple of {n} elements, not {len}"
        ));
    }
    let sum = |range: std::ops::Range<usize>| -> Vec<f32> {
        range
            .map(|i| inputs.iter().map(|v| f64::from(v[i])).sum::<f64>() as f32)
            .collect()
    };
    let chunk = len / n.max(1);
    Ok(match collective {
        Collective::AllReduce => vec![sum(0..len); n],
        Collective::AllGather => vec![inputs.concat(); n],
        Collective::ReduceScatter => (0..n).map(|r| sum(r * chunk..(r + 1) * chunk)).collect(),
        Collective::AllToAll => (0..n)
            .map(|r| {
                inputs
                    .iter()
                    .flat_map(|v| v[r * chunk..(r + 1) * chunk].iter().copied())
                    .collect()
            })
            .collect(),
        Collective::Broadcast => vec![inputs[0].clone(); n],
        Collective::Reduce => {
            let mut out = vec![Vec::new(); n];
            out[0] = sum(0..len);
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rank r holds [10r, 10r + 1, …]: every output element says where it came from.
    fn ranks(n: usize, len: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|r| (0..len).map(|i| (10 * r + i) as f32).collect())
            .collect()
    }

    #[test]
    fn each_collective_moves_what_nccl_documents() {
        let x = ranks(2, 4); // [0 1 2 3], [10 11 12 13]
        let all = |c| reference(c, &x).unwrap();
        assert_eq!(
            all(Collective::AllReduce),
            vec![vec![10., 12., 14., 16.]; 2]
        );
        assert_eq!(
            all(Collective::AllGather),
            vec![vec![0., 1., 2., 3., 10., 11., 12., 13.]; 2]
        );
        assert_eq!(
            all(Collective::ReduceScatter),
            vec![vec![10., 12.], vec![14., 16.]]
        );
        assert_eq!(
            all(Collective::AllToAll),
            vec![vec![0., 1., 10., 11.], vec![2., 3., 12., 13.]]
        );
        assert_eq!(all(Collective::Broadcast), vec![vec![0., 1., 2., 3.]; 2]);
        assert_eq!(
            all(Collective::Reduce),
            vec![vec![10., 12., 14., 16.], vec![]]
        );
    }

    #[test]
    fn all_to_all_twice_is_the_identity() {
        let x = ranks(4, 8);
        let once = reference(Collective::AllToAll, &x).unwrap();
        assert_eq!(reference(Collective::AllToAll, &once).unwrap(), x);
    }

    #[test]
    fn bad_rank_buffers_are_errors() {
        assert!(reference(Collective::AllReduce, &[]).is_err());
        let e = reference(Collective::AllReduce, &[vec![1.0; 4], vec![1.0; 3]]).unwrap_err();
        assert!(e.contains("rank 1 holds 3"), "{e}");
        let e = reference(Collective::AllToAll, &ranks(3, 4)).unwrap_err();
        assert!(e.contains("multiple of 3"), "{e}");
    }
}
