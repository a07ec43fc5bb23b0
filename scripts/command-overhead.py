#!/usr/bin/env python3
"""What objective = "command" costs around a program: per trial and per epoch.

A trivial program (no training; each epoch one report, and a 1 KiB checkpoint
whenever sweep asks: every epoch, since its metric always improves, the worst
case; or with --saves first, at epoch 1 only) runs N times under `sweep run` (one worker) and N times in a plain
Python loop of subprocesses (no sweep: the client answers locally), with 1 and
with E epochs. Per trial: (sweep - plain) / N at 1 epoch, which includes the
sweep's fixed costs (plan, aggregation, report.html) spread over N. Per epoch:
the extra slope, ((sweep_E - sweep_1) - (plain_E - plain_1)) / (N * (E - 1)).

Usage: scripts/command-overhead.py [--trials N] [--epochs E] [--repeat R] [--saves every|first]
(SWEEP=path/to/sweep, else target/release/sweep or $CARGO_TARGET_DIR's)
A benchmark, not a test: run it on an idle machine.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """\
from sweep_client import Trial
trial = Trial()
for epoch in range(1, int(trial.params["epochs"]) + 1):
    decision = trial.report(epoch, {"accuracy": epoch / 1e6 if trial.params["improve"] else 0.5})
    if decision.save:
        with open(decision.checkpoint_path, "wb") as f:
            f.write(bytes(1024))
    if decision.stop:
        break
"""


def sweep_binary():
    for candidate in [os.environ.get("SWEEP"), ROOT / "target/release/sweep",
                      Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "release/sweep"]:
        if candidate and Path(candidate).is_file():
            return str(Path(candidate).resolve())
    sys.exit("no sweep binary: cargo build --release, or set SWEEP")


def spec(trials, epochs, python, improve):
    return f"""name = "overhead"
objective = "command"
method = "grid"

[command]
argv = ["{python}", "trivial.py", "${{args}}"]

[metric]
name = "accuracy"

[parameters]
i = {{ values = [{", ".join(str(i) for i in range(trials))}] }}
epochs = {{ value = {epochs} }}
improve = {{ value = {"true" if improve else "false"} }}
"""


def time_sweep(binary, work, trials, epochs, python, improve):
    (work / "s.toml").write_text(spec(trials, epochs, python, improve))
    shutil.rmtree(work / "results", ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([binary, "run", "s.toml", "--workers", "1", "-q"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_plain(work, trials, epochs, python, improve):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    env.pop("SWEEP_ADDRESS", None)
    start = time.perf_counter()
    for i in range(trials):
        args = [f"--i={i}", f"--epochs={epochs}", f"--improve={improve}"]
        subprocess.run([python, "trivial.py", *args], cwd=work, env=env, check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the fastest counts")
    parser.add_argument("--saves", choices=["every", "first"], default="every",
                        help="a checkpoint every epoch (the metric always improves; the default) or only the first")
    args = parser.parse_args()
    binary, python = sweep_binary(), sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "trivial.py").write_text(PROGRAM)
        best = {}
        improve = args.saves == "every"
        runs = [("sweep", time_sweep), ("plain", lambda b, w, n, e, p, i: time_plain(w, n, e, p, i))]
        for name, run in runs:
            for epochs in (1, args.epochs):
                best[name, epochs] = min(
                    run(binary, work, args.trials, epochs, python, improve) for _ in range(args.repeat)
                )
        n, e = args.trials, args.epochs
        for (name, epochs), seconds in sorted(best.items()):
            print(f"{name:5} {n} trials x {epochs:4} epochs: {seconds:7.3f} s")
        per_trial = (best["sweep", 1] - best["plain", 1]) / n
        per_epoch = ((best["sweep", e] - best["sweep", 1]) - (best["plain", e] - best["plain", 1])) / (n * (e - 1))
        plain_epoch = (best["plain", e] - best["plain", 1]) / (n * (e - 1))
        print(f"overhead per trial: {per_trial * 1e3:.1f} ms (plain loop: {best['plain', 1] / n * 1e3:.1f} ms a trial)")
        saves = "a checkpoint saved every epoch" if improve else "a checkpoint saved at epoch 1 only"
        print(f"overhead per epoch: {per_epoch * 1e3:.3f} ms (plain loop: {plain_epoch * 1e3:.3f} ms an epoch), {saves}")


if __name__ == "__main__":
    main()
