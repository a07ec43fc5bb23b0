#!/usr/bin/env bash
# Times `sweep run sweeps/grid.toml` against the Python peers (plain PyTorch pool,
# Optuna) in one sitting, with ../shared/peers/compare.sh. The peers' venv must exist:
#   bash ../shared/peers/setup.sh            (once; about 6.5 GB)
#   bash scripts/compare-peers.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
peers=../shared/peers/compare.sh
[ -f "$peers" ] || { echo "ERROR: $peers not found (the shared folder sits beside the project)" >&2; exit 1; }
cargo build --release --locked
bin="${CARGO_TARGET_DIR:-target}/release/sweep"
exec bash "$peers" "$bin run sweeps/grid.toml --workers 2 --fresh --quiet --results-dir results/compare" "${1:-3}"
