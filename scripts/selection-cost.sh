#!/usr/bin/env bash
# What honest model selection costs on the benchmark workload (sweeps/grid.toml):
# wall time of `sweep run` with the default bootstrap (1000 resamples) against the
# same spec with `[metric] bootstrap = 0`, in alternating rounds on this machine;
# optionally a third binary (OLD_SWEEP=path, e.g. a build of an earlier commit) as
# the baseline that keeps no validation outputs at all. Usage: scripts/selection-cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bin=${SWEEP:-target/release/sweep}
[ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-target}/release/sweep"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp sweeps/grid.toml "$work/on.toml"
sed 's/^name = "mcc"/name = "mcc"\nbootstrap = 0/' sweeps/grid.toml > "$work/off.toml"
grep -q "bootstrap = 0" "$work/off.toml"
time_run() { # binary spec -> seconds
  local start end
  start=$(date +%s.%N)
  "$1" run "$2" --quiet --fresh --results-dir "$work/results" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
declare -a on off old
for i in $(seq "$rounds"); do
  on+=("$(time_run "$bin" "$work/on.toml")")
  off+=("$(time_run "$bin" "$work/off.toml")")
  if [ -n "${OLD_SWEEP:-}" ]; then old+=("$(time_run "$OLD_SWEEP" "$work/on.toml")"); fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# The fastest round is the one least disturbed by other load on a shared machine.
fastest() { printf '%s\n' "$@" | sort -g | head -1; }
m_on=$(median "${on[@]}"); m_off=$(median "${off[@]}")
echo "rounds: $rounds (alternating); median wall time of sweep run sweeps/grid.toml"
echo "  bootstrap = 1000 (default): ${m_on} s   [${on[*]}]"
echo "  bootstrap = 0:              ${m_off} s   [${off[*]}]"
echo "  cost of the bootstrap: $(echo "scale=1; 100 * ($m_on - $m_off) / $m_off" | bc) % of the median, \
$(echo "scale=1; 100 * ($(fastest "${on[@]}") - $(fastest "${off[@]}")) / $(fastest "${off[@]}")" | bc) % of the fastest round"
if [ -n "${OLD_SWEEP:-}" ]; then
  m_old=$(median "${old[@]}")
  echo "  $OLD_SWEEP (no outputs kept): ${m_old} s   [${old[*]}]"
  echo "  cost of keeping outputs and the bootstrap together: $(echo "scale=1; 100 * ($m_on - $m_old) / $m_old" | bc) % of the median, \
$(echo "scale=1; 100 * ($(fastest "${on[@]}") - $(fastest "${old[@]}")) / $(fastest "${old[@]}")" | bc) % of the fastest round"
fi
