//! Area under the ROC curve, as scikit-learn's `roc_auc_score`: of the
//! positive class's probability for two classes, and for more the one-vs-rest
//! macro average (`multi_class="ovr", average="macro"`): each class's AUROC
//! against the rest, averaged with equal weights.
//!
//! Each AUROC is the rank-sum (Mann-Whitney) formula with tied scores sharing
//! their mean rank, which is the area under the ROC curve with ties drawn as
//! diagonals. It is undefined (None) on rows missing a class, where
//! scikit-learn raises an error.

use super::rows::{ClassRows, RowScores, Rows, Scratch};

/// Rows sorted once by one class's probability, so the AUROC of any row set
/// (a resample) is a walk over how often each row is drawn instead of a sort.
#[derive(Debug, Clone)]
struct Ranking {
    /// The rows in the order of their scores (`total_cmp`).
    order: Vec<u32>,
    /// 1 where the row in that place is of the class, else 0.
    positive: Vec<u32>,
    /// Ends (exclusive, in places) of the runs of equal scores, whose members
    /// share one mean rank. A run extends while the next score == the run's
    /// first, so NaN scores each stand alone.
    group_ends: Vec<u32>,
}

impl Ranking {
    fn new(positive: impl Fn(usize) -> bool, scores: &[f64]) -> Self {
        // (key, row) pairs compare as integers in place, not rows through their scores: this runs
        // for every class at every epoch. The order within a run of equal scores is free, since
        // a run's members share one rank, so the sort need not be stable.
        let mut keyed: Vec<(u64, u32)> = scores.iter().zip(0u32..).map(|(&s, r)| (total_order_key(s), r)).collect();
        keyed.sort_unstable();
        let order: Vec<u32> = keyed.into_iter().map(|(_, r)| r).collect();
        let mut group_ends = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let first = scores[order[i] as usize];
            let mut j = i + 1;
            while j < order.len() && scores[order[j] as usize] == first {
                j += 1;
            }
            group_ends.push(j as u32);
            i = j;
        }
        let positive = order.iter().map(|&r| u32::from(positive(r as usize))).collect();
        Ranking { order, positive, group_ends }
    }

    /// What the AUROC reads of `probabilities` (rows × n_classes): for two
    /// classes, the rows ranked by the probability of class 1; for more, one
    /// ranking per class; none for fewer.
    fn one_vs_rest(probabilities: &[f64], labels: &[u32], n_classes: usize) -> Vec<Ranking> {
        let of_class = |k: usize| {
            let scores: Vec<f64> = probabilities.chunks(n_classes).map(|p| p[k]).collect();
            Ranking::new(|r| labels[r] as usize == k, &scores)
        };
        match n_classes {
            0 | 1 => Vec::new(),
            2 => vec![of_class(1)],
            _ => (0..n_classes).map(of_class).collect(),
        }
    }

    /// The AUROC of the rows drawn `multiplicity[row]` times each: copies of a
    /// row tie, so a run of equal scores of the drawn rows is a run here with
    /// each row counted as often as drawn. Twice the rank sum is an integer,
    /// summed exactly in integers, and the walk has no data-dependent branch
    /// for the CPU to mispredict. None when the rows hold no positive or no negative.
    fn auroc<M: Copy + Into<u32>>(&self, multiplicity: &[M]) -> Option<f64> {
        let (mut n_pos, mut position, mut start) = (0u64, 0u64, 0usize);
        // Σ over runs of positives × 2 × mean rank, a run at places i..=j
        // having mean rank (i + j) / 2 + 1; runs of no drawn row add 0.
        let mut twice_rank_sum_pos = 0u64;
        for &end in &self.group_ends {
            let (mut drawn, mut pos) = (0u64, 0u64);
            let run = start..end as usize;
            for (&row, &p) in self.order[run.clone()].iter().zip(&self.positive[run]) {
                let m: u32 = multiplicity[row as usize].into();
                drawn += u64::from(m);
                pos += u64::from(m * p);
            }
            start = end as usize;
            twice_rank_sum_pos += pos * (2 * position + drawn + 1);
            n_pos += pos;
            position += drawn;
        }
        let n_neg = position - n_pos;
        if n_pos == 0 || n_neg == 0 {
            return None;
        }
        let (p, n) = (n_pos as f64, n_neg as f64);
        Some((twice_rank_sum_pos as f64 / 2.0 - p * (p + 1.0) / 2.0) / (p * n))
    }
}

/// An integer whose order is `f64::total_cmp`'s: negative numbers (sign bit set) reversed below
/// the positive ones.
fn total_order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// The rows ranked by the probability of the positive class (binary), or of each class in turn
/// (one-vs-rest), derived once per model's outputs.
struct Rankings(Vec<Ranking>);

impl Rankings {
    fn of(c: &ClassRows) -> Rankings {
        Rankings(Ranking::one_vs_rest(c.probabilities(), &c.labels, c.n_classes))
    }
}

/// How often each row is drawn into the row set being scored, reused from one resample to the next.
#[derive(Default)]
struct Multiplicity(Vec<u32>);

/// The table's `auroc` on `rows`: binary, or the one-vs-rest macro average.
pub(crate) fn compute(scores: &RowScores, rows: Rows<'_>, scratch: &mut Scratch) -> Option<f64> {
    let c = scores.class_rows()?;
    let rankings = c.derived(Rankings::of);
    let rankings = &rankings.0;
    if rankings.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    if let Some(drawn) = rows.counts() {
        for ranking in rankings {
            sum += ranking.auroc(drawn)?;
        }
    } else {
        let multiplicity = &mut scratch.buffer::<Multiplicity>().0;
        multiplicity.clear();
        multiplicity.resize(c.labels.len(), 0);
        for &r in rows.indices() {
            multiplicity[r as usize] += 1;
        }
        for ranking in rankings {
            sum += ranking.auroc(multiplicity)?;
        }
    }
    Some(sum / rankings.len() as f64)
}

/// Binary AUROC of `scores` against `positive`; None when only one class is present.
#[cfg(test)]
pub(crate) fn auroc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    Ranking::new(|r| positive[r], scores).auroc(&vec![1u32; scores.len()])
}

#[cfg(test)]
mod tests {
    use super::super::Truth;
    use super::*;

    #[test]
    fn the_sort_key_orders_as_total_cmp() {
        let values = [f64::NEG_INFINITY, -1e300, -1.5, -f64::MIN_POSITIVE, -0.0, 0.0, 1e-310, 0.25, 7.0, f64::INFINITY];
        let mut nan_too = values.to_vec();
        nan_too.extend([f64::NAN, -f64::NAN]);
        for a in &nan_too {
            for b in &nan_too {
                assert_eq!(total_order_key(*a).cmp(&total_order_key(*b)), a.total_cmp(b), "{a} vs {b}");
            }
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn binary_auroc_counts_pairs_and_ties() {
        // 2 positives, 2 negatives; pairs (pos, neg) ordered right: (0.8>0.1),(0.8>0.4),(0.35>0.1),(0.35<0.4) = 3/4
        assert!(close(auroc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap(), 0.75));
        // A tie between a positive and a negative counts one half.
        assert!(close(auroc(&[false, true], &[0.5, 0.5]).unwrap(), 0.5));
        assert_eq!(auroc(&[true, true], &[0.1, 0.2]), None);
    }

    /// 3 classes, 8 rows: rows 0 and 4 are equal, as are 2 and 6, and the
    /// rows [1, 0, 0] and [0, 1, 0] give class 2 the same probability, so
    /// every class's ranking has ties, some between a positive and a negative.
    const LOGITS3: [f32; 24] = [
        1.0, 0.0, 0.0, /**/ 0.0, 1.0, 0.0, /**/ 0.0, 0.0, 1.0, /**/ 0.5, 0.2, -1.0, //
        1.0, 0.0, 0.0, /**/ 2.0, 0.5, 0.5, /**/ 0.0, 0.0, 1.0, /**/ -0.5, 1.5, 0.3,
    ];
    const LABELS3: [usize; 8] = [0, 1, 2, 0, 1, 0, 2, 2];

    fn scores3() -> RowScores {
        RowScores::new(&LOGITS3, Truth::Classes { labels: &LABELS3, n_classes: 3 })
    }

    // The expected values below come from scikit-learn 1.9.1 on the same
    // softmax in float64, computed as `softmax_rows` does:
    //
    //   import math, numpy as np
    //   from sklearn.metrics import roc_auc_score
    //   def softmax(rows):
    //       out = []
    //       for r in rows:
    //           m = max(r); e = [math.exp(float(np.float32(v)) - m) for v in r]; s = sum(e)
    //           out.append([x / s for x in e])
    //       return np.array(out)
    //   L = [[1,0,0],[0,1,0],[0,0,1],[.5,.2,-1],[1,0,0],[2,.5,.5],[0,0,1],[-.5,1.5,.3]]
    //   y = np.array([0,1,2,0,1,0,2,2]); P = softmax(L)
    //   roc_auc_score(y, P, multi_class="ovr", average="macro")        # full rows
    //   r = [0,1,1,2,3,5,6,7,7,4]; roc_auc_score(y[r], P[r], multi_class="ovr")  # a resample
    //   roc_auc_score(y[[0,1,3,4]], P[[0,1,3,4]], multi_class="ovr")   # ValueError: class 2 absent

    #[test]
    fn one_vs_rest_macro_matches_scikit_learn_with_ties() {
        let scores = scores3();
        let all: Vec<u32> = (0..8).collect();
        let got = scores.metric_on("auroc", &all).unwrap();
        assert!(close(got, SKLEARN_FULL), "{got} vs {SKLEARN_FULL}");
        let resample = [0, 1, 1, 2, 3, 5, 6, 7, 7, 4];
        let got = scores.metric_on("auroc", &resample).unwrap();
        assert!(close(got, SKLEARN_RESAMPLE), "{got} vs {SKLEARN_RESAMPLE}");
    }

    const SKLEARN_FULL: f64 = 0.775;
    const SKLEARN_RESAMPLE: f64 = 0.7301587301587302;

    #[test]
    fn a_class_absent_from_the_rows_leaves_it_undefined() {
        // scikit-learn raises "Number of classes in y_true not equal to the number of columns in 'y_score'".
        assert_eq!(scores3().metric_on("auroc", &[0, 1, 3, 4]), None);
        assert_eq!(scores3().metric_on("auroc", &[2, 2, 6]), None, "one class only");
        assert_eq!(scores3().metric_on("auroc", &[]), None);
    }

    #[test]
    fn binary_is_the_positive_class_probability_as_before() {
        // scikit-learn: roc_auc_score(y, softmax(L)[:, 1]) with
        // L = [[0,.25],[0,.25],[1,0],[0,2],[.3,.1],[0,.25]], y = [1,0,0,1,1,0]  (ties at rows 0, 1, 5)
        let logits = [0.0f32, 0.25, 0.0, 0.25, 1.0, 0.0, 0.0, 2.0, 0.3, 0.1, 0.0, 0.25];
        let labels = [1, 0, 0, 1, 1, 0];
        let scores = RowScores::new(&logits, Truth::Classes { labels: &labels, n_classes: 2 });
        let got = scores.metric_on("auroc", &[0, 1, 2, 3, 4, 5]).unwrap();
        assert!(close(got, SKLEARN_BINARY), "{got} vs {SKLEARN_BINARY}");
        assert_eq!(scores.metric_on("auroc", &[1, 2, 5]), None, "no positive row");
    }

    const SKLEARN_BINARY: f64 = 0.6666666666666667;

    #[test]
    fn one_class_has_no_auroc() {
        let scores = RowScores::new(&[0.3, 0.1], Truth::Classes { labels: &[0, 0], n_classes: 1 });
        assert_eq!(scores.metric_on("auroc", &[0, 1]), None);
    }
}
