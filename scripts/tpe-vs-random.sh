#!/usr/bin/env bash
# TPE against random search with the same budget, averaged over sweep seeds:
#   bash scripts/tpe-vs-random.sh [SEEDS]      (default 5)
# Both search sweeps/tpe.toml's space (24 trials of 15 epochs on digits); the table
# gives each seed's best best_mcc and the mean.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-5}
cargo build --release --locked -q
bin="${CARGO_TARGET_DIR:-target}/release/sweep"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
best() { awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="best_mcc") c=i} NR==2{print $c}' "$1"; }
printf '| seed | random best_mcc | TPE best_mcc |\n|---:|---:|---:|\n'
sum_r=0; sum_t=0
for s in $(seq 1 "$seeds"); do
  sed -e "s/^seed = .*/seed = $s/" -e '0,/^name = .*/s//name = "tpe"/' sweeps/tpe.toml > "$work/tpe.toml"
  sed -e 's/^method = "tpe"/method = "random"/' -e '0,/^name = .*/s//name = "random"/' -e '/^\[tpe\]/,/^$/d' "$work/tpe.toml" > "$work/random.toml"
  "$bin" run "$work/tpe.toml" --fresh -q --results-dir "$work/r" || true
  "$bin" run "$work/random.toml" --fresh -q --results-dir "$work/r" || true
  r=$(best "$work/r/random/leaderboard.csv"); t=$(best "$work/r/tpe/leaderboard.csv")
  printf '| %s | %.5f | %.5f |\n' "$s" "$r" "$t"
  sum_r=$(echo "$sum_r + $r" | bc -l); sum_t=$(echo "$sum_t + $t" | bc -l)
done
printf '| mean | %.5f | %.5f |\n' "$(echo "$sum_r / $seeds" | bc -l)" "$(echo "$sum_t / $seeds" | bc -l)"
