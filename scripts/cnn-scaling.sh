#!/usr/bin/env bash
# Trial throughput of the CNN example (examples/digits_cnn.toml: 8 trials x 10 epochs) with
# 1 worker, 2 worker processes (what the objective declares) and 2 threads, alternated in one
# sitting; prints each run, then the medians and the speed-ups over 1 worker.
#   bash scripts/cnn-scaling.sh [ROUNDS]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
cargo build --release --locked --example digits_cnn
bin="${CARGO_TARGET_DIR:-target}/release/examples/digits_cnn"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
trials=$(grep -c . <("$bin" plan examples/digits_cnn.toml --json))
for round in $(seq "$rounds"); do
  for mode in "1 processes" "2 processes" "2 threads"; do
    set -- $mode
    /usr/bin/time -f "%e" -o "$out/t" "$bin" run examples/digits_cnn.toml --workers "$1" --parallelism "$2" \
      --fresh --quiet --results-dir "$out/$1-$2" 2>/dev/null || true
    echo "$1 $2 $(cat "$out/t")" | tee -a "$out/all"
  done
done
python3 - "$out/all" "$trials" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    w, mode, secs = line.split()
    runs.setdefault(f"{w} {mode}", []).append(float(secs))
trials = int(sys.argv[2])
base = statistics.median(runs["1 processes"])
print(f"\n{'workers':<14}{'median wall s':>14}{'trials/s':>10}{'speed-up':>10}")
for key in ("1 processes", "2 processes", "2 threads"):
    m = statistics.median(runs[key])
    print(f"{key:<14}{m:>14.2f}{trials / m:>10.2f}{base / m:>9.2f}x")
PY
