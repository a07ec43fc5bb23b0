#!/usr/bin/env bash
# Regenerates src/publish/wandb/proto.rs from W&B's .proto files (run it by hand, not in a build).
#
#   scripts/gen-wandb-proto.sh WANDB_REPO [COMMIT]
#
# WANDB_REPO: a clone (or bare mirror) of https://github.com/wandb/wandb; COMMIT (default HEAD)
# is read with `git show`, so the work tree does not matter, and named in the file's header.
# The generator (scripts/gen-wandb-proto/) runs prost-build with the protoc of the
# protoc-bin-vendored crate, so nothing but cargo is needed.
set -euo pipefail

repo=${1:?usage: scripts/gen-wandb-proto.sh WANDB_REPO [COMMIT]}
commit=$(git -C "$repo" rev-parse "${2:-HEAD}^{commit}")
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/src/publish/wandb/proto.rs"

protos=$(mktemp -d)
trap 'rm -rf "$protos"' EXIT
mkdir -p "$protos/wandb/proto"
for name in wandb_internal wandb_base wandb_telemetry; do
    git -C "$repo" show "$commit:wandb/proto/$name.proto" >"$protos/wandb/proto/$name.proto"
done

cargo run --quiet --release --locked --manifest-path "$here/scripts/gen-wandb-proto/Cargo.toml" -- \
    "$protos" "$commit" "$out"
rustfmt --edition 2024 --config-path "$here/rustfmt.toml" "$out"
echo "wrote $out (wandb/wandb@$commit)"
