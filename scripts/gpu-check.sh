#!/usr/bin/env bash
# The GPU check of sweep's `wgpu` build, for a machine with a GPU and no cargo or network: the
# built-in MLP's grid and the CNN example on the GPU against the CPU, with 1, 2, 4 and 8 trials per
# device, into one results file. Build here (sweep's repository, any machine with cargo):
#
#   bash scripts/gpu-check.sh --pack gpu-check.tar     # builds --release --features wgpu, packs
#
# then carry gpu-check.tar to the GPU machine and run there, from any folder:
#
#   tar xf gpu-check.tar && bash gpu-check/scripts/gpu-check.sh --out results.md
#
# The pack holds the two binaries (xz), Debian's Vulkan loader (libvulkan.so.1, used only where the
# machine has none), the bundled digits and this script. NVIDIA's Vulkan driver must be installed
# (it comes with the usual driver packages: /usr/share/vulkan/icd.d/nvidia_icd.json). What it
# measures, per workload (MLP: sweeps/grid.toml, 36 trials; CNN: examples/digits_cnn.toml, 8 trials;
# both at GPU_CHECK_EPOCHS epochs, default 5, so the whole check stays under 5 minutes):
#   - trials/s on the CPU (2 worker threads or processes, as the sweep says) and on the GPU with
#     1, 2, 4 and 8 worker processes sharing it, and the speed-up over the CPU;
#   - GPU memory per worker process (nvidia-smi's used_memory, the largest sample per process);
#   - bit identity: the same GPU sweep run twice (sha256 of every checkpoint), and across the
#     trials-per-device settings;
#   - agreement with the CPU: the largest difference of any trial's best validation metric.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=gpu-check.md
pack=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --pack) pack=$2; shift 2 ;;
    *) echo "usage: $0 [--pack FILE.tar | --out RESULTS.md]" >&2; exit 2 ;;
  esac
done

if [ -n "$pack" ]; then
  cd "$here"
  cargo build --release --locked --features wgpu --bin sweep --example digits_cnn
  target=${CARGO_TARGET_DIR:-target}/release
  stage=$(mktemp -d)/gpu-check
  mkdir -p "$stage/bin" "$stage/lib" "$stage/scripts" "$stage/data" "$stage/sweeps" "$stage/examples"
  xz -T0 -c "$target/sweep" >"$stage/bin/sweep.xz"
  xz -T0 -c "$target/examples/digits_cnn" >"$stage/bin/digits_cnn.xz"
  loader=$(ldconfig -p | awk '/libvulkan.so.1 / { print $NF; exit }')
  [ -n "$loader" ] && cp -L "$loader" "$stage/lib/libvulkan.so.1"
  cp scripts/gpu-check.sh "$stage/scripts/"
  cp data/digits.csv "$stage/data/"
  cp sweeps/grid.toml "$stage/sweeps/"
  cp examples/digits_cnn.toml "$stage/examples/"
  tar -C "$(dirname "$stage")" -cf "$pack" gpu-check
  echo "packed $(du -h "$pack" | cut -f1) into $pack"
  exit 0
fi

epochs=${GPU_CHECK_EPOCHS:-5}
per_device=${GPU_CHECK_TRIALS_PER_DEVICE:-1 2 4 8}
work=$(mktemp -d)
bin=$work/bin
mkdir -p "$bin"
# From a pack, or from a build folder (SWEEP_BIN_DIR=target/release: sweep and examples/digits_cnn).
for b in sweep digits_cnn; do
  if [ -f "$here/bin/$b.xz" ]; then
    xz -dc "$here/bin/$b.xz" >"$bin/$b"
  else
    dir=${SWEEP_BIN_DIR:?set SWEEP_BIN_DIR or run from a pack}
    if [ -f "$dir/$b" ]; then cp "$dir/$b" "$bin/$b"; else cp "$dir/examples/$b" "$bin/$b"; fi
  fi
  chmod +x "$bin/$b"
done
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' && [ -f "$here/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
for b in sweep digits_cnn; do
  if ! "$bin/$b" devices 2>/dev/null | grep -q '^wgpu:0 '; then
    echo "$b shows no wgpu device: build it with --features wgpu, and install the GPU's Vulkan driver" >&2
    "$bin/$b" devices >&2 || true
    exit 1
  fi
done
cd "$work"
mkdir -p data sweeps examples
cp "$here/data/digits.csv" data/
sed "s/^epochs = .*/epochs = $epochs/" "$here/sweeps/grid.toml" >sweeps/grid.toml
sed "s/^epochs = .*/epochs = $epochs/" "$here/examples/digits_cnn.toml" >examples/digits_cnn.toml

{
  echo "# sweep GPU check, $(date -u +%FT%TZ)"
  echo
  echo '```'
  uname -srm
  (nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi")
  "$bin/sweep" devices --check 2>&1 || true
  echo '```'
  echo
} >"$out"

# Samples every worker's GPU memory while a run goes on; the largest per process.
sample_memory() {
  local file=$1
  : >"$file"
  while :; do
    nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits >>"$file" 2>/dev/null || return 0
    sleep 0.5
  done
}

# run NAME BINARY SPEC RESULTS ARGS...: one sweep, timed; prints "seconds trials mem_mib_per_worker".
run() {
  local name=$1 program=$2 spec=$3 results=$4
  shift 4
  local mem=$work/$name.mem sampler=
  if command -v nvidia-smi >/dev/null; then sample_memory "$mem" & sampler=$!; fi
  local start end
  start=$(date +%s.%N)
  "$bin/$program" run "$spec" -q --fresh --results-dir "$results" "$@" >"$work/$name.log" 2>&1 || {
    echo "| $name | failed: $(tail -n 3 "$work/$name.log" | tr '\n' ' ') |" >>"$out"
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    return 1
  }
  end=$(date +%s.%N)
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  python3 - "$start" "$end" "$results" "$mem" <<'PY'
import csv, glob, os, sys
start, end, results, mem = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = list(csv.DictReader(open(glob.glob(os.path.join(results, "*", "leaderboard.csv"))[0])))
peak = {}
if os.path.exists(mem):
    for line in open(mem):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[1].isdigit():
            peak[parts[0]] = max(peak.get(parts[0], 0), int(parts[1]))
per_worker = max(peak.values()) if peak else float("nan")
print(f"{end - start:.2f} {len(rows)} {per_worker}")
PY
}

# compare A B: bit identity (every trial's checkpoint sha256) and the largest best-metric difference.
compare() {
  python3 - "$1" "$2" <<'PY'
import csv, glob, json, os, sys
def trials(root):
    boards = glob.glob(os.path.join(root, "*", "leaderboard.csv"))
    if not boards:
        print(f"not measured ({os.path.basename(root)} did not run)")
        sys.exit(0)
    board = boards[0]
    out = {}
    for row in csv.DictReader(open(board)):
        rec = json.load(open(os.path.join(os.path.dirname(board), "trials", row["trial_id"], "trial.json")))
        out[row["trial_id"]] = (rec.get("checkpoint_sha256"), rec["best_metrics"])
    return out
a, b = trials(sys.argv[1]), trials(sys.argv[2])
same = sum(1 for t in a if t in b and a[t][0] == b[t][0])
diff = max((abs(a[t][1][m] - b[t][1][m]) for t in a if t in b for m in a[t][1] if m in b[t][1] and m != "train_loss"), default=float("nan"))
best = lambda x: max(x, key=lambda t: x[t][1].get("mcc", 0))
print(f"{same}/{len(a)} identical checkpoints, largest metric difference {diff:.2e}, best trial {'same' if best(a) == best(b) else 'differs'}")
PY
}

for workload in mlp cnn; do
  case $workload in
    mlp) program=sweep; spec=sweeps/grid.toml ;;
    cnn) program=digits_cnn; spec=examples/digits_cnn.toml ;;
  esac
  {
    echo "## $workload ($spec, $epochs epochs)"
    echo
    echo "| run | seconds | trials | trials/s | speed-up over the CPU | GPU MiB per worker |"
    echo "|---|---|---|---|---|---|"
  } >>"$out"
  read -r cpu_s trials _ < <(run "$workload-cpu" "$program" "$spec" "$work/$workload-cpu" --device cpu)
  echo "| CPU, 2 workers | $cpu_s | $trials | $(python3 -c "print(f'{$trials/$cpu_s:.2f}')") | 1 | |" >>"$out"
  for n in $per_device; do
    read -r s trials mib < <(run "$workload-gpu$n" "$program" "$spec" "$work/$workload-gpu$n" --device wgpu --devices 0 --trials-per-device "$n") || continue
    echo "| GPU 0, $n per device | $s | $trials | $(python3 -c "print(f'{$trials/$s:.2f}')") | $(python3 -c "print(f'{$cpu_s/$s:.2f}')") | $mib |" >>"$out"
  done
  first=$(set -- $per_device; echo "$1")
  run "$workload-gpu$first-again" "$program" "$spec" "$work/$workload-gpu$first-again" --device wgpu --devices 0 --trials-per-device "$first" >/dev/null || true
  {
    echo
    echo "- GPU rerun ($first per device, twice): $(compare "$work/$workload-gpu$first" "$work/$workload-gpu$first-again")"
    for n in $per_device; do
      [ "$n" = "$first" ] && continue
      [ -d "$work/$workload-gpu$n" ] && echo "- GPU $first vs $n per device: $(compare "$work/$workload-gpu$first" "$work/$workload-gpu$n")"
    done
    echo "- GPU vs CPU: $(compare "$work/$workload-gpu$first" "$work/$workload-cpu")"
    echo
  } >>"$out"
done
echo "wrote $out"
cat "$out"
