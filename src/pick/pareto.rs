//! Non-dominated sorting and crowding distance as NSGA-II defines them
//! (Deb et al., 2002), over points whose every coordinate is to be minimized
//! ([`super::minimized`] turns a maximized one).

/// Whether `a` dominates `b`: no worse in every coordinate, better in one.
pub(crate) fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        better |= x < y;
    }
    better
}

/// The fronts, best first: front 0 is every point no other dominates, front
/// `k` those only points of earlier fronts dominate. Indices within a front
/// are ascending.
pub(crate) fn non_dominated_fronts(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by_count = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in (i + 1)..n {
            if dominates(&points[i], &points[j]) {
                dominates_list[i].push(j);
                dominated_by_count[j] += 1;
            } else if dominates(&points[j], &points[i]) {
                dominates_list[j].push(i);
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_list[i] {
                dominated_by_count[j] -= 1;
                if dominated_by_count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::replace(&mut current, next));
    }
    fronts
}

/// Each point's 1-based front (`pareto_rank`: 1 = non-dominated).
pub(crate) fn pareto_ranks(points: &[Vec<f64>]) -> Vec<usize> {
    let mut ranks = vec![0; points.len()];
    for (k, front) in non_dominated_fronts(points).iter().enumerate() {
        for &i in front {
            ranks[i] = k + 1;
        }
    }
    ranks
}

/// The crowding distance of each point of `front` (indices into `points`),
/// in the front's order: the sum over coordinates of the gap between its
/// neighbours, normalised by the coordinate's range; the ends of each
/// coordinate get infinity, so the extremes of a front are kept first.
pub(crate) fn crowding_distance(points: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let mut distance = vec![0.0; front.len()];
    if front.len() <= 2 {
        return vec![f64::INFINITY; front.len()];
    }
    let dims = points[front[0]].len();
    // `d` is a coordinate of every point of the front, not an index into one slice.
    #[allow(clippy::needless_range_loop)]
    for d in 0..dims {
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| points[front[a]][d].total_cmp(&points[front[b]][d]).then(a.cmp(&b)));
        let (lo, hi) = (points[front[order[0]]][d], points[front[order[front.len() - 1]]][d]);
        distance[order[0]] = f64::INFINITY;
        distance[order[front.len() - 1]] = f64::INFINITY;
        let range = hi - lo;
        if !(range.is_finite() && range > 0.0) {
            continue;
        }
        for w in 1..front.len() - 1 {
            let gap = points[front[order[w + 1]]][d] - points[front[order[w - 1]]][d];
            distance[order[w]] += gap / range;
        }
    }
    distance
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domination_needs_one_strict_improvement() {
        assert!(dominates(&[1.0, 2.0], &[1.0, 3.0]));
        assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0]), "equal points do not dominate each other");
        assert!(!dominates(&[0.0, 3.0], &[1.0, 2.0]));
    }

    #[test]
    fn fronts_peel_off_in_order() {
        // A staircase front (0, 1, 2), a point behind it (3), one behind that (4), and a
        // duplicate of a front point (5), which shares its front.
        let p = vec![vec![1.0, 5.0], vec![2.0, 3.0], vec![4.0, 1.0], vec![3.0, 4.0], vec![5.0, 5.0], vec![2.0, 3.0]];
        assert_eq!(non_dominated_fronts(&p), vec![vec![0, 1, 2, 5], vec![3], vec![4]]);
        assert_eq!(pareto_ranks(&p), vec![1, 1, 1, 2, 3, 1]);
        assert_eq!(non_dominated_fronts(&[]), Vec::<Vec<usize>>::new());
    }

    #[test]
    fn a_worst_value_is_dominated_by_any_real_one() {
        let p = vec![vec![0.5, f64::INFINITY], vec![0.9, 10.0]];
        assert_eq!(pareto_ranks(&p), vec![1, 1], "better in one coordinate keeps it on the front");
        let p = vec![vec![f64::INFINITY, f64::INFINITY], vec![0.9, 10.0]];
        assert_eq!(pareto_ranks(&p), vec![2, 1]);
    }

    #[test]
    fn crowding_favours_the_ends_and_the_lonely() {
        let p = vec![vec![0.0, 4.0], vec![1.0, 3.0], vec![1.5, 2.5], vec![4.0, 0.0]];
        let d = crowding_distance(&p, &[0, 1, 2, 3]);
        assert!(d[0].is_infinite() && d[3].is_infinite());
        // Point 1: gaps (1.5 - 0) / 4 + (4 - 2.5) / 4 = 0.75; point 2: (4 - 1) / 4 + (3 - 0) / 4 = 1.5.
        assert!((d[1] - 0.75).abs() < 1e-12 && (d[2] - 1.5).abs() < 1e-12, "{d:?}");
        assert_eq!(crowding_distance(&p, &[1, 2]), vec![f64::INFINITY; 2]);
    }
}
