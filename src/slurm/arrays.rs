//! Splitting a submission into job arrays that the cluster accepts (pure).
//!
//! SLURM rejects an array whose task ids reach `MaxArraySize` (1001 unless the
//! cluster sets it) or that holds more than `max_array_tasks` tasks
//! (`SchedulerParameters`, default `MaxArraySize`). A sweep with more trials
//! becomes several arrays, each running trial `offset + $SLURM_ARRAY_TASK_ID`.

/// `0-2,5,7-8`: sorted indices as SLURM array ranges.
pub(crate) fn array_ranges(indices: &[usize]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    out.join(",")
}

/// SLURM's `MaxArraySize` where the cluster does not set it.
pub(crate) const DEFAULT_MAX_ARRAY_SIZE: usize = 1001;

/// What the cluster allows in one job array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArrayLimits {
    /// `MaxArraySize`: every task id is below it.
    pub max_array_size: usize,
    /// `max_array_tasks`: at most this many tasks per array.
    pub max_array_tasks: usize,
}

impl ArrayLimits {
    /// Task ids below `max_array_size`, and as many tasks as fit.
    pub(crate) fn new(max_array_size: usize) -> Self {
        ArrayLimits { max_array_size, max_array_tasks: max_array_size }
    }
}

/// Reads the array limits from `scontrol show config`'s output (`MaxArraySize
/// = 1001`, and `max_array_tasks=N` in `SchedulerParameters`); `None` when it
/// names no `MaxArraySize`.
pub(crate) fn parse_limits(config: &str) -> Option<ArrayLimits> {
    let value = |key: &str| {
        config.lines().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    let max_array_size: usize = value("MaxArraySize")?.parse().ok()?;
    let max_array_tasks = value("SchedulerParameters")
        .and_then(|params| {
            params.split(',').find_map(|p| p.trim().strip_prefix("max_array_tasks=").and_then(|n| n.parse().ok()))
        })
        .map_or(max_array_size, |n: usize| n.min(max_array_size));
    Some(ArrayLimits { max_array_size, max_array_tasks })
}

/// One job array of a submission: its task `t` runs trial `offset + t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArrayChunk {
    /// Added to `$SLURM_ARRAY_TASK_ID` to get the trial index.
    pub offset: usize,
    /// The array's task ids, ascending.
    pub tasks: Vec<usize>,
}

impl ArrayChunk {
    /// The trial indices it runs, ascending.
    pub(crate) fn indices(&self) -> Vec<usize> {
        self.tasks.iter().map(|t| self.offset + t).collect()
    }

    /// Its `--array` ranges (without `%K`).
    pub(crate) fn array(&self) -> String {
        array_ranges(&self.tasks)
    }
}

/// Splits trial indices into as few arrays as `limits` allow, in index order.
/// The first array keeps offset 0 when all its indices are valid task ids (a
/// sweep that fits in one array runs as before); every later one starts at
/// its first index. Empty when `indices` is; `limits` must allow at least one
/// task (`max_array_size` and `max_array_tasks` ≥ 1).
pub(crate) fn split(indices: &[usize], limits: ArrayLimits) -> Vec<ArrayChunk> {
    let size = limits.max_array_size.max(1);
    let per_array = limits.max_array_tasks.clamp(1, size);
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut chunks = Vec::new();
    let mut rest = sorted.as_slice();
    while let Some(&first) = rest.first() {
        let n = rest.iter().take(per_array).take_while(|&&i| i - first < size).count();
        let (mine, later) = rest.split_at(n);
        let offset = if mine[n - 1] < size { 0 } else { first };
        chunks.push(ArrayChunk { offset, tasks: mine.iter().map(|i| i - offset).collect() });
        rest = later;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(array_ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(array_ranges(&[3]), "3");
        assert_eq!(array_ranges(&[4, 2, 3, 3]), "2-4");
    }

    fn covered(chunks: &[ArrayChunk]) -> Vec<usize> {
        chunks.iter().flat_map(ArrayChunk::indices).collect()
    }

    fn check(indices: &[usize], limits: ArrayLimits) -> Vec<ArrayChunk> {
        let chunks = split(indices, limits);
        let mut want = indices.to_vec();
        want.sort_unstable();
        want.dedup();
        assert_eq!(covered(&chunks), want, "every index once, in order");
        for c in &chunks {
            assert!(c.tasks.iter().all(|&t| t < limits.max_array_size), "{c:?}");
            assert!(!c.tasks.is_empty() && c.tasks.len() <= limits.max_array_tasks, "{c:?}");
        }
        chunks
    }

    #[test]
    fn a_sweep_that_fits_is_one_array_at_offset_zero() {
        let chunks = check(&(0..36).collect::<Vec<_>>(), ArrayLimits::new(1001));
        assert_eq!(chunks, vec![ArrayChunk { offset: 0, tasks: (0..36).collect() }]);
        assert_eq!(chunks[0].array(), "0-35");
        // Exactly MaxArraySize trials: ids 0..=max-1 still fit.
        assert_eq!(check(&(0..1001).collect::<Vec<_>>(), ArrayLimits::new(1001)).len(), 1);
        // A resubmission of a few trials keeps their own ids.
        let chunks = check(&[7, 2, 4, 4], ArrayLimits::new(10));
        assert_eq!(chunks, vec![ArrayChunk { offset: 0, tasks: vec![2, 4, 7] }]);
        assert_eq!(check(&[0], ArrayLimits::new(1)), vec![ArrayChunk { offset: 0, tasks: vec![0] }]);
        assert!(split(&[], ArrayLimits::new(5)).is_empty());
    }

    #[test]
    fn a_larger_sweep_is_split_at_max_array_size() {
        // 5000 trials, the default limit: 5 arrays, each ids 0-1000 at most.
        let chunks = check(&(0..5000).collect::<Vec<_>>(), ArrayLimits::new(1001));
        let shape: Vec<(usize, String)> = chunks.iter().map(|c| (c.offset, c.array())).collect();
        assert_eq!(
            shape,
            [(0, "0-1000"), (1001, "0-1000"), (2002, "0-1000"), (3003, "0-1000"), (4004, "0-995")]
                .map(|(o, a)| (o, a.to_string()))
        );
        // n = k * max: k full arrays, no empty one after them.
        let chunks = check(&(0..15).collect::<Vec<_>>(), ArrayLimits::new(5));
        assert_eq!(
            chunks.iter().map(|c| (c.offset, c.array())).collect::<Vec<_>>(),
            [(0, "0-4".to_string()), (5, "0-4".to_string()), (10, "0-4".to_string())]
        );
        // One more: a last array of one task.
        let chunks = check(&(0..16).collect::<Vec<_>>(), ArrayLimits::new(5));
        assert_eq!(chunks.last(), Some(&ArrayChunk { offset: 15, tasks: vec![0] }));
        // MaxArraySize = 1: only task id 0 exists, one array per trial.
        let chunks = check(&[0, 1, 2], ArrayLimits::new(1));
        assert_eq!(
            chunks.iter().map(|c| (c.offset, c.array())).collect::<Vec<_>>(),
            [(0, "0".to_string()), (1, "0".to_string()), (2, "0".to_string())]
        );
    }

    #[test]
    fn sparse_indices_share_an_array_while_their_span_fits() {
        // --only-missing on a large sweep: each array spans less than MaxArraySize from its first index.
        let chunks = check(&[3, 9, 12, 20, 22, 40], ArrayLimits::new(10));
        assert_eq!(
            chunks,
            vec![
                ArrayChunk { offset: 3, tasks: vec![0, 6, 9] },
                ArrayChunk { offset: 20, tasks: vec![0, 2] },
                ArrayChunk { offset: 40, tasks: vec![0] },
            ]
        );
        // Two indices exactly MaxArraySize apart never share an array: the second's task id would be MaxArraySize.
        assert_eq!(
            check(&[0, 10], ArrayLimits::new(10)),
            vec![ArrayChunk { offset: 0, tasks: vec![0] }, ArrayChunk { offset: 10, tasks: vec![0] },]
        );
        assert_eq!(check(&[5, 14, 15], ArrayLimits::new(10)).len(), 2);
        // Far beyond the limit, a single index is one array at its own offset.
        assert_eq!(check(&[4321], ArrayLimits::new(1001)), vec![ArrayChunk { offset: 4321, tasks: vec![0] }]);
    }

    #[test]
    fn max_array_tasks_caps_the_tasks_per_array() {
        let limits = ArrayLimits { max_array_size: 1001, max_array_tasks: 4 };
        let chunks = check(&(0..10).collect::<Vec<_>>(), limits);
        assert_eq!(
            chunks.iter().map(|c| (c.offset, c.array())).collect::<Vec<_>>(),
            [(0, "0-3".to_string()), (0, "4-7".to_string()), (0, "8-9".to_string())]
        );
    }

    #[test]
    fn scontrol_show_config_is_parsed() {
        let config = "Configuration data as of 2026-11-30T16:00:00\nAccountingStorageType   = (null)\n\
                      MaxArraySize            = 7\nMaxJobCount             = 10000\n\
                      SchedulerParameters     = batch_sched_delay=0\n";
        assert_eq!(parse_limits(config), Some(ArrayLimits { max_array_size: 7, max_array_tasks: 7 }));
        let with_tasks = config.replace("batch_sched_delay=0", "batch_sched_delay=0,max_array_tasks=3");
        assert_eq!(parse_limits(&with_tasks), Some(ArrayLimits { max_array_size: 7, max_array_tasks: 3 }));
        // max_array_tasks above MaxArraySize changes nothing.
        let loose = config.replace("batch_sched_delay=0", "max_array_tasks=50");
        assert_eq!(parse_limits(&loose).map(|l| l.max_array_tasks), Some(7));
        assert_eq!(parse_limits("MaxArraySize = 0\n"), Some(ArrayLimits { max_array_size: 0, max_array_tasks: 0 }));
        assert_eq!(parse_limits("MaxJobCount = 10000\n"), None);
        assert_eq!(parse_limits("MaxArraySize = lots\n"), None);
        // Keys are whole words: MaxArraySizeX is not MaxArraySize.
        assert_eq!(parse_limits("MaxArraySizeX = 5\n"), None);
    }
}
