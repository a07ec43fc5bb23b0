#!/usr/bin/env python3
"""Hypervolume of the (mcc, params) front after the same budget: sweep's grid, random, TPE and
NSGA-II, and Optuna's NSGAIISampler on the same space.

    python3 scripts/pareto-compare.py SWEEP_BINARY [--budget 16] [--seeds 5] [--out DIR]

The space is the bundled grid's (sweeps/grid.toml: lr x hidden x layers x dropout, 36
configurations, 30 epochs on data/digits.csv). Objectives: best-epoch mcc (maximize) and the
checkpoint's tensor elements, `params` (minimize); both follow from spec and seed, so the
figures are reproducible (latency would make them follow the machine's load).

Two ways of scoring, both printed:
- trained: each sweep method's own leaderboard (its trials train with their own seeds);
- table: every method's proposed configurations scored by the full grid's leaderboard, so that
  sweep's samplers and Optuna, which cannot run sweep's trainer, see the same outcome for the
  same configuration. Optuna runs only where `import optuna` works (run the script with a
  Python that has it; the sweep part needs the standard library only).

Hypervolume: of the points (1 - mcc) / 0.1 and params / 90000 (both minimized, the full grid's
ranges) against the reference point (1, 1); 1 would be a perfect model with no parameters.
"""

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPACE = {"lr": [0.001, 0.003, 0.01], "hidden": [64, 128, 256], "layers": [1, 2], "dropout": [0.0, 0.2]}


def spec(name, method, budget, seed, extra=""):
    params = "\n".join(f"{k} = {{ values = {v} }}" for k, v in SPACE.items())
    trials = "" if method == "grid" else f"trials = {budget}\n"
    return f"""name = "{name}"
method = "{method}"
{trials}seed = {seed}
workers = 2

[data]
path = "{ROOT / 'data/digits.csv'}"
target = "target"
valid_fraction = 0.2

[metric]
name = "mcc"
goal = "maximize"
trade_off = ["params"]
bootstrap = 0
{extra}
[train]
epochs = 30
batch_size = 64
optimizer = "adam"

[parameters]
{params}
"""


def key(params):
    return tuple(str(float(params[k])) if k in ("lr", "dropout") else str(int(float(params[k]))) for k in SPACE)


def run(binary, folder, name, text):
    path = folder / f"{name}.toml"
    path.write_text(text)
    subprocess.run([binary, "run", str(path), "--results-dir", str(folder / "results"), "--quiet", "--fresh"], check=True)
    rows = list(csv.DictReader(open(folder / "results" / name / "leaderboard.csv")))
    return [r for r in rows if r["status"] in ("completed", "pruned")]


def hypervolume(points):
    """2-D hypervolume of minimized points against (1, 1)."""
    front = sorted(p for p in points if p[0] < 1 and p[1] < 1)
    volume, best_y = 0.0, 1.0
    for x, y in front:
        if y < best_y:
            volume += (1 - x) * (best_y - y)
            best_y = y
    return volume


def point(mcc, params):
    return ((1 - mcc) / 0.1, params / 90000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--budget", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out")
    args = ap.parse_args()
    folder = Path(args.out or tempfile.mkdtemp(prefix="pareto-"))
    folder.mkdir(parents=True, exist_ok=True)

    grid = run(args.binary, folder, "grid", spec("grid", "grid", 0, 42))
    table = {key(r): (float(r["best_mcc"]), float(r["params"])) for r in grid}
    full = hypervolume([point(*v) for v in table.values()])
    print(f"space: {len(table)} configurations; full grid hypervolume {full:.4f} (budget {len(table)})")
    front = [r for r in grid if r["pareto_rank"] == "1"]
    for r in sorted(front, key=lambda r: float(r["params"])):
        print(f"  front: {r['trial_id']} mcc {float(r['best_mcc']):.5f} params {r['params']} "
              f"latency_p50 {float(r['latency_p50_ms']):.4f} ms  hidden={r['hidden']} layers={r['layers']}")

    results = {}
    pop = max(2, args.budget // 2)
    methods = [("random", ""), ("tpe", "\n[tpe]\nstartup_trials = 8\n"), ("nsga2", f"\n[nsga2]\npopulation_size = {pop}\n")]
    for method, extra in methods:
        for seed in range(args.seeds):
            name = f"{method}-{seed}"
            rows = run(args.binary, folder, name, spec(name, method, args.budget, seed, extra))
            trained = hypervolume([point(float(r["best_mcc"]), float(r["params"])) for r in rows])
            scored = hypervolume([point(*table[key(r)]) for r in rows])
            distinct = len({key(r) for r in rows})
            results.setdefault(f"sweep {method}", []).append((trained, scored, distinct))

    try:
        import optuna
    except ImportError:
        optuna = None
        print("optuna: not importable here; run this script with a Python that has it for Optuna's NSGA-II", file=sys.stderr)
    if optuna is not None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        for seed in range(args.seeds):
            sampler = optuna.samplers.NSGAIISampler(population_size=pop, seed=seed)
            study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)

            def objective(trial):
                p = {k: trial.suggest_categorical(k, v) for k, v in SPACE.items()}
                return table[key(p)]

            study.optimize(objective, n_trials=args.budget)
            points = [point(*t.values) for t in study.trials]
            distinct = len({key(t.params) for t in study.trials})
            results.setdefault(f"optuna NSGAIISampler ({optuna.__version__})", []).append((None, hypervolume(points), distinct))

    print(f"\nbudget {args.budget} trials, {args.seeds} seeds, population {pop} (NSGA-II)")
    print("| method | hypervolume, trained (mean ± sd) | hypervolume, scored by the grid (mean ± sd) | distinct configurations |")
    print("| --- | --- | --- | --- |")
    for method, runs in results.items():
        trained = [t for t, _, _ in runs if t is not None]
        scored = [s for _, s, _ in runs]
        distinct = statistics.mean(d for _, _, d in runs)
        fmt = lambda v: f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}" if len(v) > 1 else (f"{v[0]:.4f}" if v else "–")
        print(f"| {method} | {fmt(trained)} | {fmt(scored)} | {distinct:.1f} |")
    print(f"| grid (all {len(table)}) | {full:.4f} | {full:.4f} | {len(table)} |")


if __name__ == "__main__":
    main()
