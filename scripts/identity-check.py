#!/usr/bin/env python3
"""Compares two results roots written by two sweep binaries from the same specs.

    python3 scripts/identity-check.py BEFORE_ROOT AFTER_ROOT

For every sweep folder in BEFORE_ROOT: the leaderboard's columns (timings aside) must be
equal cell for cell in AFTER_ROOT, matched by trial id; every checkpoint's tensors (dtype,
shape, bytes) must be identical, and every header metadata key of the old checkpoint must
have the same value in the new one (inside a JSON-valued key, every old field). Keys, fields
and columns that only the new binary writes, and cells it fills that were empty, are listed,
not failed: a new metric adds them. Exit 1 on any difference. Standard library only.
"""

import csv
import hashlib
import json
import struct
import sys
from pathlib import Path

# The trial's wall time and the best model's serving timings differ from run to run.
TIMING_COLUMNS = {"duration_s", "latency_p50_ms", "latency_p95_ms", "rows_per_s"}
# A checkpoint's sha256 covers its header, which holds every metric of the best epoch: a
# new metric changes it while the weights stay the same, so the weights are compared instead.
HEADER_DEPENDENT_COLUMNS = {"checkpoint_sha256"}


def read_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {
        name: (t["dtype"], tuple(t["shape"]), data[t["data_offsets"][0] : t["data_offsets"][1]])
        for name, t in header.items()
    }
    return tensors, metadata, hashlib.sha256(raw).hexdigest()


def json_object(text):
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def leaderboard(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["trial_id"]: r for r in rows}, [r["trial_id"] for r in rows]


def compare_sweep(before, after, problems, notes):
    name = before.name
    if not (after / "leaderboard.csv").exists():
        problems.append(f"{name}: no leaderboard.csv in {after}")
        return
    old, old_order = leaderboard(before / "leaderboard.csv")
    new, new_order = leaderboard(after / "leaderboard.csv")
    if old_order != new_order:
        problems.append(f"{name}: ranking differs: {old_order[:5]}... vs {new_order[:5]}...")
    old_cols = set(next(iter(old.values())).keys()) if old else set()
    new_cols = set(next(iter(new.values())).keys()) if new else set()
    if new_cols - old_cols:
        notes.append(f"{name}: new leaderboard columns {sorted(new_cols - old_cols)}")
    if old_cols - new_cols:
        problems.append(f"{name}: columns gone {sorted(old_cols - new_cols)}")
    cells = 0
    filled = set()
    for trial, row in old.items():
        if trial not in new:
            problems.append(f"{name}: trial {trial} missing")
            continue
        for col, value in row.items():
            if col in TIMING_COLUMNS or col in HEADER_DEPENDENT_COLUMNS or col not in new[trial]:
                continue
            if value == "" and new[trial][col] != "":
                filled.add(col)
                continue
            cells += 1
            if new[trial][col] != value:
                problems.append(f"{name}/{trial}: {col} {value!r} -> {new[trial][col]!r}")
    if filled:
        notes.append(f"{name}: cells empty before and filled now in {sorted(filled)}")
    same_bytes = same_weights = 0
    new_keys = set()
    for ckpt in sorted(before.glob("trials/*/*.safetensors")) + sorted(before.glob("refit/**/*.safetensors")):
        rel = ckpt.relative_to(before)
        other = after / rel
        if not other.exists():
            problems.append(f"{name}: {rel} missing")
            continue
        t_old, m_old, h_old = read_safetensors(ckpt)
        t_new, m_new, h_new = read_safetensors(other)
        if h_old == h_new:
            same_bytes += 1
        if t_old != t_new:
            problems.append(f"{name}: {rel}: tensors differ")
            continue
        same_weights += 1
        for k, v in m_old.items():
            old_obj, new_obj = json_object(v), json_object(m_new.get(k))
            if old_obj is not None and new_obj is not None:
                # A JSON object (the best epoch's metrics): its old keys keep their values.
                for inner, value in old_obj.items():
                    if new_obj.get(inner) != value:
                        problems.append(f"{name}: {rel}: metadata {k}.{inner} {value!r} -> {new_obj.get(inner)!r}")
                new_keys |= {f"{k}.{inner}" for inner in set(new_obj) - set(old_obj)}
            elif m_new.get(k) != v:
                problems.append(f"{name}: {rel}: metadata {k} {v!r} -> {m_new.get(k)!r}")
        new_keys |= set(m_new) - set(m_old)
    if new_keys:
        notes.append(f"{name}: new checkpoint metadata keys {sorted(new_keys)}")
    notes.append(
        f"{name}: {len(old)} trials, {cells} leaderboard cells equal; "
        f"{same_weights} safetensors files with identical tensors, {same_bytes} byte-identical"
    )


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    before_root, after_root = Path(sys.argv[1]), Path(sys.argv[2])
    problems, notes = [], []
    sweeps = sorted(p for p in before_root.iterdir() if (p / "leaderboard.csv").exists())
    if not sweeps:
        print(f"no sweep folders with a leaderboard.csv under {before_root}", file=sys.stderr)
        return 2
    for before in sweeps:
        compare_sweep(before, after_root / before.name, problems, notes)
    for n in notes:
        print(n)
    for p in problems:
        print("DIFFERENT:", p)
    print(f"{len(sweeps)} sweeps compared: {'identical' if not problems else f'{len(problems)} differences'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
