#!/usr/bin/env bash
# Early termination measured: wall time and best best_mcc of full training, ASHA
# (min_epochs 3, eta 3) and W&B's hyperband stopping (min_iter 3, eta 3), on the
# bundled grid (sweeps/grid.toml, 36 trials x 30 epochs) and on a 60-trial random
# sweep (sweeps/tpe.toml's space, 30 epochs); locally with 2 workers, batched
# (reproducible) and --async, and as a SLURM array (needs a running cluster:
# scripts/slurm-local.sh start; skipped without sbatch).
# Usage: scripts/early-termination.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SWEEP:-target/release/sweep}
[ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-target}/release/sweep"
bin=$(realpath "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r data "$work/"

# Only the first `name =` line is the sweep's ([metric] has one too).
grid() { sed "0,/^name = .*/s//name = \"$1\"/" sweeps/grid.toml; }
random60() {
  sed -e "0,/^name = .*/s//name = \"$1\"/" -e 's/^method = .*/method = "random"/' -e 's/^trials = .*/trials = 60/' \
      -e '/^\[tpe\]/d' -e '/^startup_trials/d' -e 's/^epochs = .*/epochs = 30/' sweeps/tpe.toml
}
with_rule() { # spec-text rule -> spec with early_terminate after the seed line
  if [ -z "$2" ]; then cat; else sed "s/^seed = \(.*\)/seed = \1\nearly_terminate = $2/"; fi
}
asha='{ type = "asha", min_epochs = 3, eta = 3 }'
hyperband='{ type = "hyperband", min_iter = 3, eta = 3 }'

best() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "best_mcc") c = i } NR == 2 { print $c }' "$1/leaderboard.csv"; }
pruned() { grep -c ',pruned,' "$1/leaderboard.csv" || true; }

run_local() { # name spec-file mode
  local start end
  start=$(date +%s.%N)
  (cd "$work" && "$bin" run "$2" --quiet --workers 2 $3 --results-dir "local$3" >/dev/null) || { echo "sweep run $2 failed" >&2; exit 1; }
  end=$(date +%s.%N)
  printf '%.2f' "$(echo "$end - $start" | bc)"
}
run_slurm() { # name spec-file
  local start end out ids
  start=$(date +%s.%N)
  out=$(cd "$work" && "$bin" slurm "$2" --results-dir slurm) || { echo "sweep slurm $2 failed" >&2; exit 1; }
  ids=$(echo "$out" | grep -oE 'job: [0-9]+' | awk '{print $2}' | paste -sd,)
  while [ -n "$(squeue -h -j "$ids" 2>/dev/null)" ]; do sleep 0.5; done
  end=$(date +%s.%N)
  printf '%.2f' "$(echo "$end - $start" | bc)"
}

echo "| sweep | rule | where | wall s | best best_mcc | pruned |"
echo "| --- | --- | --- | ---: | ---: | ---: |"
for sweep in grid random60; do
  for rule in full asha hyperband; do
    name="$sweep-$rule"
    case $rule in full) r="" ;; asha) r=$asha ;; hyperband) r=$hyperband ;; esac
    $sweep "$name" | with_rule "$name" "$r" > "$work/$name.toml"
    modes=("")
    [ "$rule" != full ] && modes+=("--async")
    for mode in "${modes[@]}"; do
      t=$(run_local "$name" "$name.toml" "$mode")
      where="local, 2 workers${mode:+, async}"
      [ "$rule" != full ] && [ -z "$mode" ] && where="local, 2 workers, batched"
      echo "| $sweep | $rule | $where | $t | $(best "$work/local$mode/$name") | $(pruned "$work/local$mode/$name") |"
    done
    if command -v sbatch >/dev/null 2>&1 && sinfo >/dev/null 2>&1; then
      t=$(run_slurm "$name" "$name.toml")
      echo "| $sweep | $rule | SLURM array | $t | $(best "$work/slurm/$name") | $(pruned "$work/slurm/$name") |"
    fi
  done
done
