//! The workloads of issue "Speed": W-digits, scaling, W-trivial, W-wide,
//! checkpoint policy, and the plan/aggregate scale tests; and `sweep wandb export` at scale.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};

use super::file_floor::{self, TrialFiles};
use super::{BenchError, Figure, measure_command};
use crate::aggregate;
use crate::objective::{Catalog, builtin};
use crate::runner::{self, ExistingResults, InjectedFaults, RunOptions, SilentReporter};
use crate::spec::{self, SweepSpec};
use crate::store::{SweepDir, TrialRecord, names};

/// What to run, and how big.
#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    /// The W-digits spec (sweeps/grid.toml).
    pub grid_spec: PathBuf,
    /// The CNN example's spec (examples/digits_cnn.toml).
    pub cnn_spec: PathBuf,
    /// A scratch folder (wiped per workload).
    pub work: PathBuf,
    /// Workloads to run (empty: all): digits, cnn, scaling (both), trivial, wide, checkpoint, plan, aggregate, wandb.
    pub only: Vec<String>,
    /// W-trivial trials.
    pub trivial_trials: usize,
    /// Size of the planned grid.
    pub plan_size: usize,
    /// Synthetic records aggregated.
    pub aggregate_records: usize,
    /// Synthetic trials exported as W&B offline runs.
    pub wandb_trials: usize,
    /// The data file the in-process workloads train on.
    pub data: PathBuf,
    /// The data file of W-trivial.
    pub trivial_data: PathBuf,
}

impl BenchOptions {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// The workloads measure the built-in MLP, whatever objectives the binary offers.
fn mlp_catalog(workload: &str) -> Result<Catalog, BenchError> {
    Catalog::new(builtin()).map_err(|e| fail(workload, e))
}

fn fail(workload: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Workload { workload: workload.into(), message: e.to_string() }
}

/// Where scratch folders left by an earlier `--keep` run wait until the timed
/// workloads are over: deleting thousands of files right before W-trivial
/// would slow its file creations for a minute or more (ext4 without a journal
/// skips recently freed inodes; see `store::replace_via_spare`).
const TRASH: &str = ".trash";

/// A fresh scratch folder for one workload.
fn scratch(o: &BenchOptions, name: &str) -> Result<PathBuf, BenchError> {
    let dir = o.work.join(name);
    if dir.exists() {
        let trash = o.work.join(TRASH);
        std::fs::create_dir_all(&trash).map_err(|e| fail(name, e))?;
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        std::fs::rename(&dir, trash.join(format!("{name}-{stamp}"))).map_err(|e| fail(name, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| fail(name, e))?;
    Ok(dir)
}

/// Runs every selected workload, in one sitting, and returns the figures.
/// With `baseline`, each workload is also run by the baseline binary, called
/// with the workload's `--only` name: before ours for the first, third, ...
/// workload, after ours for the others, so that neither binary always meets the
/// machine warmer (page cache, CPU frequency) or busier than the other.
pub(crate) fn run_all(
    o: &BenchOptions,
    mut progress: impl FnMut(&str),
    mut baseline: Option<&mut dyn FnMut(&str)>,
) -> Result<Vec<Figure>, BenchError> {
    type Workload = fn(&BenchOptions) -> Result<Vec<Figure>, BenchError>;
    let workloads: [(&[&str], &str, &str, Workload); 8] = [
        (&["digits", "scaling"], "digits", "W-digits (sweeps/grid.toml), 2 workers then 1, 3 rounds", w_digits),
        (
            &["cnn", "scaling"],
            "cnn",
            "the CNN example (examples/digits_cnn.toml), 2 workers then 1, 3 rounds",
            cnn_scaling,
        ),
        (&["trivial"], "trivial", "W-trivial", w_trivial),
        (&["wide"], "wide", "W-wide and a plain GEMM of the same shape", w_wide),
        (&["checkpoint"], "checkpoint", "checkpoint policy: best-only vs every epoch", checkpoint_policy),
        (&["plan"], "plan", "sweep plan at scale", plan_scale),
        (&["aggregate"], "aggregate", "sweep aggregate at scale", aggregate_scale),
        (&["wandb"], "wandb", "sweep wandb export at scale", wandb_scale),
    ];
    let mut figures = Vec::new();
    let mut position = 0;
    for (names, only, what, run) in workloads {
        if !names.iter().any(|n| o.wants(n)) {
            continue;
        }
        let baseline_first = position % 2 == 0;
        position += 1;
        if baseline_first && let Some(run_baseline) = baseline.as_mut() {
            progress(&format!("{what} (baseline)"));
            run_baseline(only);
        }
        progress(what);
        figures.extend(run(o)?);
        if !baseline_first && let Some(run_baseline) = baseline.as_mut() {
            progress(&format!("{what} (baseline)"));
            run_baseline(only);
        }
    }
    let trash = o.work.join(TRASH);
    if trash.exists() {
        std::fs::remove_dir_all(&trash).map_err(|e| fail("cleanup", e))?;
    }
    Ok(figures)
}

fn w_digits(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let exe = std::env::current_exe().map_err(|e| fail("W-digits", e))?;
    let spec = std::path::absolute(&o.grid_spec).map_err(|e| fail("W-digits", e))?;
    let runs = one_and_two_workers(o, "W-digits", "digits", &exe, &spec)?;
    let mut out = runs.figures("W-digits");
    // The MLP's workers are threads of the run's process: this is every trial's memory at once.
    out.push(Figure::at_most("W-digits", "peak RSS, 2 workers", runs.peak_rss_mb[0], "MB", 50.0));
    out.push(Figure::at_least("scaling", "speed-up 1 -> 2 workers", runs.speed_up(), "x", 1.85));
    Ok(out)
}

/// The CNN example (`examples/digits_cnn.rs`, your own Burn model in worker processes) with 1
/// and 2 workers. Its binary is built beside this one by `cargo build --release --example
/// digits_cnn`; without it the workload says so and gives no figures.
fn cnn_scaling(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let name = "CNN example";
    let exe = std::env::current_exe().map_err(|e| fail(name, e))?;
    let example = exe.parent().map(|d| d.join("examples").join("digits_cnn")).filter(|p| p.is_file());
    let Some(example) = example else {
        eprintln!(
            "skipped: {name}: no examples/digits_cnn beside this binary; cargo build --release --example digits_cnn"
        );
        return Ok(Vec::new());
    };
    let spec = std::path::absolute(&o.cnn_spec).map_err(|e| fail(name, e))?;
    let runs = one_and_two_workers(o, name, "cnn", &example, &spec)?;
    let mut out = runs.figures(name);
    // With 2 workers the trials run in worker processes this figure does not see; with 1, in the run's own.
    out.push(Figure::at_most(name, "peak RSS, 1 worker", runs.peak_rss_mb[1], "MB", 50.0));
    out.push(Figure::at_least("scaling", "CNN example: speed-up 1 -> 2 workers", runs.speed_up(), "x", 1.8));
    Ok(out)
}

/// Wall times of three runs each with 2 workers and with 1, alternated; figures are medians.
struct WorkerRuns {
    two: Vec<f64>,
    one: Vec<f64>,
    /// CPU time of the first run with 2 workers, then with 1.
    cpu: [f64; 2],
    /// The run process's largest peak RSS with 2 workers, then with 1.
    peak_rss_mb: [f64; 2],
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

impl WorkerRuns {
    fn speed_up(&self) -> f64 {
        median(&self.one) / median(&self.two)
    }

    fn figures(&self, name: &str) -> Vec<Figure> {
        vec![
            Figure::info(name, "wall time, 2 workers", median(&self.two), "s"),
            Figure::info(name, "wall time, 1 worker", median(&self.one), "s"),
            Figure::info(name, "CPU time, 2 workers", self.cpu[0], "s"),
            Figure::info(name, "CPU time, 1 worker", self.cpu[1], "s"),
        ]
    }
}

/// `program run spec --workers 2|1 --fresh --quiet`, three rounds; a single pair of runs
/// swings by ±20 % on a shared 2-core machine.
fn one_and_two_workers(
    o: &BenchOptions,
    name: &str,
    folder: &str,
    program: &Path,
    spec: &Path,
) -> Result<WorkerRuns, BenchError> {
    let dir = scratch(o, folder)?;
    let cwd = std::env::current_dir().map_err(|e| fail(name, e))?;
    let mut runs = WorkerRuns { two: Vec::new(), one: Vec::new(), cpu: [0.0; 2], peak_rss_mb: [0.0; 2] };
    for round in 0..3 {
        for workers in ["2", "1"] {
            let results = dir.join(format!("w{workers}"));
            let args = [
                "run",
                spec.to_str().unwrap_or(""),
                "--workers",
                workers,
                "--fresh",
                "--quiet",
                "--results-dir",
                results.to_str().unwrap_or(""),
            ];
            let stats = measure_command(program, &args, &cwd).map_err(|e| fail(name, e))?;
            if stats.code != Some(0) {
                return Err(fail(name, format!("{} run exited with {:?}", program.display(), stats.code)));
            }
            let two = workers == "2";
            if round == 0 {
                runs.cpu[usize::from(!two)] = stats.cpu_s;
            }
            let rss = &mut runs.peak_rss_mb[usize::from(!two)];
            *rss = rss.max(stats.peak_rss_mb);
            if two { runs.two.push(stats.wall_s) } else { runs.one.push(stats.wall_s) }
        }
    }
    Ok(runs)
}

/// A spec over `data`: top-level keys `top`, then `tables`.
fn spec_text(data: &Path, name: &str, top: &str, tables: &str) -> String {
    format!(
        "name = \"{name}\"\nseed = 1\n{top}\n[data]\npath = \"{}\"\n[metric]\nname = \"mcc\"\n{tables}",
        data.display()
    )
}

fn run_in_process(
    o: &BenchOptions,
    name: &str,
    text: &str,
    workers: usize,
) -> Result<(f64, Vec<TrialRecord>), BenchError> {
    run_in(scratch(o, name)?, name, text, workers)
}

/// Runs a spec in `dir` with `--fresh`.
fn run_in(dir: PathBuf, name: &str, text: &str, workers: usize) -> Result<(f64, Vec<TrialRecord>), BenchError> {
    let catalog = mlp_catalog(name)?;
    let spec: SweepSpec = spec::parse(text, Path::new(name), &catalog).map_err(|e| fail(name, e))?;
    let options = RunOptions {
        workers,
        results_root: dir,
        existing: ExistingResults::Fresh,
        faults: InjectedFaults::default(),
        parallelism: None,
        asynchronous: false,
        placement: crate::device::Placement::cpu(),
    };
    let start = Instant::now();
    let summary = runner::run_sweep(&spec, &catalog, &options, &mut SilentReporter).map_err(|e| fail(name, e))?;
    let wall = start.elapsed().as_secs_f64();
    if let Some(bad) = summary.records.iter().find(|r| !r.status.has_model()) {
        return Err(fail(name, format!("trial {} {}: {:?}", bad.id, bad.status.as_str(), bad.message)));
    }
    Ok((wall, summary.records))
}

fn w_trivial(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let name = "W-trivial";
    // The smallest real trial: logistic regression (layers = 0) on the smallest bundled table,
    // one epoch, with every file a trial keeps and its durable record.
    let text = spec_text(
        &o.trivial_data,
        "trivial",
        &format!("method = \"random\"\ntrials = {}", o.trivial_trials),
        "[train]\nepochs = 1\nlayers = 0\nbatch_size = 512\n[parameters]\nlr = { distribution = \"log_uniform_values\", min = 0.0001, max = 0.1 }\n",
    );
    // Kept from one bench run to the next (outside the scratch folders): a rerun with --fresh
    // reuses the earlier trials' files, where deleting them would slow down file creation
    // for minutes on ext4 without a journal (see store::replace_via_spare).
    let dir = o.work.with_file_name("trivial");
    let first_in_new_folder = !SweepDir::new(dir.join("trivial")).has_results();

    // The machine's limit for this workload: creating small files in a new folder beside the
    // trials' (ext4 keeps a folder's files in its block group, and the cost depends on it).
    // Deleted only after the timed runs, which it would otherwise slow down.
    let probe = dir.join(".fs-probe");
    let files = 500;
    let _ = std::fs::remove_dir_all(&probe);
    std::fs::create_dir_all(&probe).map_err(|e| fail(name, e))?;
    let start = Instant::now();
    for i in 0..files {
        std::fs::write(probe.join(format!("f{i}")), b"{}").map_err(|e| fail(name, e))?;
    }
    let create_us = start.elapsed().as_secs_f64() / files as f64 * 1e6;

    // Three runs, the median counts: single runs of 0.2 s swing by ±10 % on a shared machine.
    let mut rates = Vec::new();
    let mut trials = 0;
    for _ in 0..3 {
        let (wall, records) = run_in(dir.clone(), "trivial", &text, 2)?;
        trials = records.len();
        rates.push(records.len() as f64 / wall);
    }
    std::fs::remove_dir_all(&probe).map_err(|e| fail(name, e))?;
    let floors = file_floors(o, &dir.join("trivial"), trials).map_err(|e| fail(name, e))?;
    let first = rates[0];
    let data = o.trivial_data.file_name().map_or(String::new(), |f| f.to_string_lossy().into_owned());
    let how = if first_in_new_folder { "in a new folder" } else { "over the last bench's folder" };
    Ok(vec![
        Figure::info(
            name,
            &format!("file creation beside the trials' folder, now ({files} files)"),
            create_us,
            "us/file",
        ),
        Figure::info(name, &format!("first of 3 runs ({how}), trials per second"), first, "trials/s"),
        Figure::at_least(
            name,
            &format!("{trials} trials on {data}, 2 workers: trials per second (records durable), median of 3"),
            median(&rates),
            "trials/s",
            5000.0,
        ),
        Figure::info(name, "its files alone (no training), in a new folder: trials per second", floors[0], "trials/s"),
        Figure::info(
            name,
            "its files alone without best.json and the validation outputs (a format that merged them away)",
            floors[1],
            "trials/s",
        ),
    ])
}

/// W-trivial's floor ([`file_floor`]): the files of a trial of the run in
/// `sweep` alone, as written today, then without the two files a format
/// change could merge into others.
fn file_floors(o: &BenchOptions, sweep: &Path, trials: usize) -> Result<[f64; 2], String> {
    let committed = SweepDir::new(sweep).scan().map_err(|e| e.to_string())?;
    let record = committed.complete.first().ok_or("no committed trial to copy")?;
    let trial_dir = SweepDir::new(sweep).trial_dir(&record.id);
    let today = [names::CHECKPOINT, names::BEST_METADATA, names::VALID_OUTPUTS];
    let mut floors = [0.0; 2];
    for (floor, (folder, best)) in floors.iter_mut().zip([("files", &today[..]), ("files-merged", &today[..1])]) {
        let files = TrialFiles::of(&trial_dir, best).map_err(|e| format!("{}: {e}", trial_dir.display()))?;
        let root = scratch(o, &format!("trivial-{folder}")).map_err(|e| e.to_string())?;
        *floor = file_floor::trials_per_second(&root, &files, trials, 2).map_err(|e| e.to_string())?;
    }
    Ok(floors)
}

/// Multiply-adds ×2 of one training step of an MLP, forward and backward
/// (dW for every layer, dA for every layer but the first), plus the forward pass.
fn step_flops(b: f64, d: f64, h: f64, layers: usize, k: f64) -> f64 {
    let mut macs = 0.0;
    let mut widths = vec![d];
    widths.extend(std::iter::repeat_n(h, layers));
    widths.push(k);
    for (i, pair) in widths.windows(2).enumerate() {
        let m = b * pair[0] * pair[1];
        macs += m + m + if i > 0 { m } else { 0.0 };
    }
    2.0 * macs
}

fn w_wide(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let name = "W-wide";
    let (hidden, layers, batch, epochs) = (1024usize, 2usize, 512usize, 10usize);
    let text = spec_text(
        &o.data,
        "wide",
        "method = \"grid\"",
        &format!(
            "[train]\nepochs = {epochs}\nhidden = {hidden}\nlayers = {layers}\nbatch_size = {batch}\n[parameters]\nlr = {{ values = [0.0003, 0.001, 0.003, 0.01] }}\n"
        ),
    );
    let data = crate::data::load_csv(&o.data, &crate::data::CsvOptions::target("target")).map_err(|e| fail(name, e))?;
    let prepared =
        crate::data::prepare(&data, crate::metrics::Task::Classification, 0.2, 1).map_err(|e| fail(name, e))?;
    let (wall, records) = run_in_process(o, "wide", &text, 2)?;
    let (n, d, k) = (prepared.n_train(), prepared.n_features as f64, prepared.n_outputs() as f64);
    let mut per_epoch = 0.0;
    let mut left = n;
    while left > 0 {
        let b = left.min(batch);
        per_epoch += step_flops(b as f64, d, hidden as f64, layers, k);
        left -= b;
    }
    let total = per_epoch * epochs as f64 * records.len() as f64;
    let achieved = total / wall / 1e9;
    // Each epoch also runs the validation rows forward: matmuls the trials must do as well.
    let validation = forward_flops(prepared.n_valid() as f64, d, hidden as f64, layers, k);
    let with_validation = (per_epoch + validation) * epochs as f64 * records.len() as f64 / wall / 1e9;

    // The machine's practical limit: a plain GEMM of the hidden layer's shape on one thread,
    // alone, and on every core at once (the cores then share caches, memory and power, as the
    // trials do).
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let alone = plain_gemm(batch, hidden);
    let together: f64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores).map(|_| scope.spawn(|| plain_gemm(batch, hidden))).collect();
        threads.into_iter().map(|t| t.join().unwrap_or(0.0)).sum()
    });
    Ok(vec![
        Figure::info(name, "4 trials x 10 epochs, 2 workers, wall time", wall, "s"),
        Figure::info(name, "training GFLOP/s (both workers)", achieved, "GFLOP/s"),
        Figure::info(name, "GFLOP/s with each epoch's validation pass", with_validation, "GFLOP/s"),
        Figure::info(name, &format!("plain GEMM {batch}x{hidden}x{hidden}, 1 thread"), alone, "GFLOP/s"),
        Figure::info(
            name,
            &format!("plain GEMM {batch}x{hidden}x{hidden}, one thread per core at once"),
            together,
            "GFLOP/s",
        ),
        Figure::info(
            name,
            &format!("share of the GEMM limit ({cores} cores)"),
            achieved / (alone * cores as f64),
            "ratio",
        ),
        Figure::at_least(
            name,
            "share of the cores' GEMM limit, running together, validation counted",
            with_validation / together,
            "ratio",
            0.75,
        ),
    ])
}

/// Multiply-adds ×2 of a forward pass over `rows` rows.
fn forward_flops(rows: f64, d: f64, h: f64, layers: usize, k: f64) -> f64 {
    let mut widths = vec![d];
    widths.extend(std::iter::repeat_n(h, layers));
    widths.push(k);
    2.0 * rows * widths.windows(2).map(|w| w[0] * w[1]).sum::<f64>()
}

/// GFLOP/s of 20 products `batch × hidden` by `hidden × hidden` on this thread, through flex.
fn plain_gemm(batch: usize, hidden: usize) -> f64 {
    let device = Device::flex();
    let a = Tensor::<2>::from_data(TensorData::new(vec![0.5f32; batch * hidden], [batch, hidden]), &device);
    let w = Tensor::<2>::from_data(TensorData::new(vec![0.25f32; hidden * hidden], [hidden, hidden]), &device);
    let reps = 20;
    let _ = a.clone().matmul(w.clone()).into_data();
    let start = Instant::now();
    for _ in 0..reps {
        let _ = a.clone().matmul(w.clone()).into_data();
    }
    2.0 * (batch * hidden * hidden) as f64 * reps as f64 / start.elapsed().as_secs_f64() / 1e9
}

fn checkpoint_policy(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let name = "checkpoints";
    let grid =
        std::fs::read_to_string(&o.grid_spec).map_err(|e| fail(name, format!("{}: {e}", o.grid_spec.display())))?;
    let mut out = Vec::new();
    for (policy, label) in [("best", "best-only"), ("every_epoch", "every epoch")] {
        let text = format!("checkpoint = \"{policy}\"\n{grid}")
            .replace("name = \"digits-grid\"", &format!("name = \"ckpt-{policy}\""));
        let catalog = mlp_catalog(name)?;
        let spec: SweepSpec = spec::parse(&text, &o.grid_spec, &catalog).map_err(|e| fail(name, e))?;
        let dir = scratch(o, &format!("ckpt-{policy}"))?;
        let options = RunOptions {
            workers: 2,
            results_root: dir,
            existing: ExistingResults::Fresh,
            faults: InjectedFaults::default(),
            parallelism: None,
            asynchronous: false,
            placement: crate::device::Placement::cpu(),
        };
        let summary = runner::run_sweep(&spec, &catalog, &options, &mut SilentReporter).map_err(|e| fail(name, e))?;
        let bytes: u64 = summary.records.iter().map(|r| r.checkpoint_bytes).sum();
        let saving: f64 = summary.records.iter().map(|r| r.checkpoint_s).sum();
        let trial_time: f64 = summary.records.iter().map(|r| r.duration_s).sum();
        out.push(Figure::info(name, &format!("{label}: bytes written"), bytes as f64 / 1e6, "MB"));
        out.push(Figure::info(name, &format!("{label}: time saving"), saving, "s"));
        let share = saving / trial_time * 100.0;
        out.push(if policy == "best" {
            Figure::at_most(name, "best-only: share of trial time", share, "%", 2.0)
        } else {
            Figure::info(name, "every epoch: share of trial time", share, "%")
        });
    }
    Ok(out)
}

fn plan_scale(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let name = "plan";
    // Six parameters whose value counts multiply to about plan_size.
    let per = (o.plan_size as f64).powf(1.0 / 6.0).round().max(1.0) as usize;
    let list = |scale: f64| (1..=per).map(|i| format!("{}", i as f64 * scale)).collect::<Vec<_>>().join(", ");
    let ints = |from: usize| (from..from + per).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let text = spec_text(
        &o.data,
        "plan",
        "method = \"grid\"",
        &format!(
            "[parameters]\nlr = {{ values = [{}] }}\nhidden = {{ values = [{}] }}\nlayers = {{ values = [{}] }}\ndropout = {{ values = [{}] }}\nbatch_size = {{ values = [{}] }}\nweight_decay = {{ values = [{}] }}\n",
            list(0.001),
            ints(16),
            ints(1),
            list(0.01),
            ints(32),
            list(0.0001)
        ),
    );
    let spec: SweepSpec = spec::parse(&text, Path::new("plan"), &mlp_catalog(name)?).map_err(|e| fail(name, e))?;
    let start = Instant::now();
    let plan = spec.plan();
    // What `sweep plan --json` does: every trial's id, seed and params, serialised.
    let count = plan.write_json_lines(plan.len(), &mut std::io::sink()).map_err(|e| fail(name, e))?;
    let secs = start.elapsed().as_secs_f64();
    Ok(vec![Figure::at_most(name, &format!("plan of {count} trials (ids, seeds, JSON)"), secs, "s", 1.0)])
}

fn aggregate_scale(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let mut figures = vec![aggregate_records_alone(o)?];
    figures.extend(aggregate_as_a_run_leaves_them(o)?);
    Ok(figures)
}

/// `aggregate_records` synthetic records and nothing else in their folders: what reading and
/// ranking the records costs, without the histories and the bootstrap of a real run's trials.
fn aggregate_records_alone(o: &BenchOptions) -> Result<Figure, BenchError> {
    let name = "aggregate";
    let dir = SweepDir::new(scratch(o, "aggregate")?);
    let monitor = crate::metrics::Monitor::new("mcc", crate::metrics::Goal::Maximize, 0.0);
    let template = TrialRecord { duration_s: 1.0, ..TrialRecord::synthetic("synthetic", "", monitor) };
    for i in 0..o.aggregate_records {
        let mut r = template.clone();
        r.index = i;
        r.id = format!("t{i:06}-synth");
        r.params.insert("lr".into(), crate::params::ParamValue::Float(1e-4 * (1 + i % 97) as f64));
        for (j, m) in crate::metrics::Task::Classification.metric_names().iter().enumerate() {
            r.best_metrics.insert((*m).into(), ((i * 31 + j * 7) % 1000) as f64 / 1000.0);
        }
        r.checkpoint = Some(format!("trials/{}/best.safetensors", r.id));
        r.checkpoint_sha256 = Some(format!("{i:064}"));
        let trial_dir = dir.trial_dir(&r.id);
        std::fs::create_dir_all(&trial_dir).map_err(|e| fail(name, e))?;
        let bytes = serde_json::to_vec(&r).map_err(|e| fail(name, e))?;
        std::fs::write(trial_dir.join(names::RECORD), bytes).map_err(|e| fail(name, e))?;
    }
    let secs = timed_aggregate(name, &dir)?;
    Ok(Figure::info(
        name,
        &format!("aggregate {} records alone (no histories, no outputs)", o.aggregate_records),
        secs,
        "s",
    ))
}

/// Distinct real trials the realistic aggregate copies from.
const REAL_TRIALS: usize = 100;

/// `aggregate_records` trials as a run leaves them: [`REAL_TRIALS`] real trials of W-trivial's
/// spec (one epoch, each its own learning rate), each copied round-robin into folders of their
/// own (history and validation outputs hard-linked, the record with its own id and index), so
/// aggregating reads every trial's record, history and outputs and bootstraps the outputs, as it
/// does at the end of a real run. Measured twice: the aggregation's exports alone (the row
/// earlier versions measured, kept by name so a baseline gives its value), and the `sweep
/// aggregate` command a user runs (the exports, report.html, its own process), which carries
/// the target.
fn aggregate_as_a_run_leaves_them(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let name = "aggregate";
    let (source, real) = seed_sweep(
        o,
        name,
        &format!("method = \"random\"\ntrials = {}", REAL_TRIALS.min(o.aggregate_records.max(1))),
        "[train]\nepochs = 1\nlayers = 0\nbatch_size = 512\n[parameters]\nlr = { distribution = \"log_uniform_values\", min = 0.0001, max = 0.1 }\n",
        2,
    )?;
    let dir = SweepDir::new(scratch(o, "aggregate-trials")?);
    std::fs::copy(source.file(names::PREPROCESSING), dir.file(names::PREPROCESSING)).map_err(|e| fail(name, e))?;
    copy_trials(&source, &real, &dir, o.aggregate_records, &[names::HISTORY, names::VALID_OUTPUTS], |_, _| ())
        .map_err(|e| fail(name, e))?;
    let trials = o.aggregate_records;
    let exports = timed_aggregate(name, &dir)?;
    crate::store::sync_tree(dir.root()).map_err(|e| fail(name, e))?;
    let exe = std::env::current_exe().map_err(|e| fail(name, e))?;
    let root = dir.root().to_str().ok_or_else(|| fail(name, "the scratch folder's path is not UTF-8"))?;
    let cwd = std::env::current_dir().map_err(|e| fail(name, e))?;
    let command = measure_command(&exe, &["aggregate", "--quiet", root], &cwd).map_err(|e| fail(name, e))?;
    if command.code != Some(0) {
        return Err(fail(name, format!("sweep aggregate exited with {:?}", command.code)));
    }
    Ok(vec![
        Figure::info(
            name,
            &format!("aggregate {trials} trials as a run leaves them (record, history, validation outputs; bootstrap)"),
            exports,
            "s",
        ),
        Figure::at_most(
            name,
            &format!("sweep aggregate on those {trials} trials (exports and report.html, its own process)"),
            command.wall_s,
            "s",
            3.0,
        ),
        Figure::info(name, &format!("sweep aggregate on those {trials} trials, peak RSS"), command.peak_rss_mb, "MB"),
    ])
}

/// A sweep `name` of real trials on the trivial data (top-level keys `top`, then `tables`), run in
/// the scratch folder `<name>-seed` by `workers` workers: the trials the scale workloads copy.
fn seed_sweep(
    o: &BenchOptions,
    name: &str,
    top: &str,
    tables: &str,
    workers: usize,
) -> Result<(SweepDir, Vec<TrialRecord>), BenchError> {
    let seed_dir = scratch(o, &format!("{name}-seed"))?;
    let (_, records) = run_in(seed_dir.clone(), name, &spec_text(&o.trivial_data, name, top, tables), workers)?;
    Ok((SweepDir::new(seed_dir.join(name)), records))
}

/// Copies the trials `templates` of the sweep `source` round-robin into `count` trial folders of
/// `dir`, each its own (id `t<index>-copy`, index, and what `adjust` sets), with the template's
/// `files` hard-linked and the sweep's manifest copied: many trials of real files, written fast.
fn copy_trials(
    source: &SweepDir,
    templates: &[TrialRecord],
    dir: &SweepDir,
    count: usize,
    files: &[&str],
    adjust: impl Fn(usize, &mut TrialRecord),
) -> std::io::Result<()> {
    if templates.is_empty() {
        return Err(std::io::Error::other("the seed sweep recorded no trial"));
    }
    std::fs::copy(source.file(names::MANIFEST), dir.file(names::MANIFEST))?;
    for (i, template) in (0..count).zip(templates.iter().cycle()) {
        let mut r = template.clone();
        r.index = i;
        r.id = format!("t{i:06}-copy");
        adjust(i, &mut r);
        let trial_dir = dir.trial_dir(&r.id);
        std::fs::create_dir_all(&trial_dir)?;
        let from = source.trial_dir(&template.id);
        for file in files {
            std::fs::hard_link(from.join(file), trial_dir.join(file))?;
        }
        std::fs::write(trial_dir.join(names::RECORD), serde_json::to_vec(&r).map_err(std::io::Error::other)?)?;
    }
    Ok(())
}

/// Seconds `sweep aggregate` takes over `dir`, its files written back first: the writeback of
/// the files just made, on the same two cores, moved the figure by half a second from one run
/// to the next.
fn timed_aggregate(name: &str, dir: &SweepDir) -> Result<f64, BenchError> {
    crate::store::sync_tree(dir.root()).map_err(|e| fail(name, e))?;
    let start = Instant::now();
    aggregate::aggregate(dir).map_err(|e| fail(name, e))?;
    Ok(start.elapsed().as_secs_f64())
}

/// One real trial (20 epochs on the trivial data), copied into `wandb_trials` trial folders
/// (its files hard-linked, each record with its own id, index and seed), then exported twice:
/// the first export writes every run, the second finds them all up to date.
fn wandb_scale(o: &BenchOptions) -> Result<Vec<Figure>, BenchError> {
    let name = "wandb";
    let (source, records) =
        seed_sweep(o, name, "method = \"grid\"", "[train]\nepochs = 20\n[parameters]\nlr = { values = [0.01] }\n", 1)?;
    let template = records.first().ok_or_else(|| fail(name, "the seed sweep recorded no trial"))?;
    let dir = SweepDir::new(scratch(o, "wandb")?);
    let files = [names::CHECKPOINT, names::BEST_METADATA, names::PREPROCESSING, names::HISTORY];
    copy_trials(&source, std::slice::from_ref(template), &dir, o.wandb_trials, &files, |i, r| {
        r.seed = template.seed.wrapping_add(i as u64);
    })
    .map_err(|e| fail(name, e))?;
    let catalog = mlp_catalog(name)?;
    let export = || -> Result<(f64, crate::publish::wandb::Exported), BenchError> {
        let start = Instant::now();
        let view = crate::publish::SweepView::load(&dir).map_err(|e| fail(name, e))?;
        let exported =
            crate::publish::wandb::export_view(&view, &catalog, &Default::default()).map_err(|e| fail(name, e))?;
        Ok((start.elapsed().as_secs_f64(), exported))
    };
    let (first, exported) = export()?;
    let (again, unchanged) = export()?;
    if unchanged.written != 0 {
        return Err(fail(name, format!("a second export wrote {} files", unchanged.written)));
    }
    Ok(vec![
        Figure::at_most(
            name,
            &format!("export {} trials ({} records, {} files)", exported.runs, exported.records, exported.written),
            first,
            "s",
            10.0,
        ),
        Figure::info(name, &format!("export {} trials again (nothing to write)", unchanged.runs), again, "s"),
    ])
}

#[cfg(test)]
mod tests {
    use super::step_flops;

    #[test]
    fn flops_of_a_forward_pass_by_hand() {
        // d=2, one hidden layer h=3, k=4, 5 rows: 5·(2·3 + 3·4) = 90 MACs = 180 FLOPs.
        assert_eq!(super::forward_flops(5.0, 2.0, 3.0, 1, 4.0), 180.0);
    }

    #[test]
    fn flops_of_a_training_step_by_hand() {
        // d=2, one hidden layer h=3, k=4, batch 5:
        // layer 1: forward 30 MACs, dW 30, no dA; layer 2: forward 60, dW 60, dA 60 → 240 MACs = 480 FLOPs.
        assert_eq!(step_flops(5.0, 2.0, 3.0, 1, 4.0), 480.0);
    }
}
