#!/usr/bin/env python3
"""Lists the import circles between sibling modules of the crate; exits 1 if there is one.

Each `crate::`, `super::` and `self::` path in the code (`use` lines and inline
paths, comments left out) is an edge from the file's module to the deepest
module it names. Edges are then looked at level by level: two modules that
share a parent form a circle when each reaches the other, counting every file
below each of them (so `liveness` ⇄ `store` is found from `store/claim.rs`).
A parent and its own children are not a circle: `mod.rs` re-exports them and
they use its types, which is how a Rust module is built.

Usage: scripts/import-cycles.py [src-dir]   (default: src)
"""

import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "src")


def module_of(path: Path) -> tuple:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


MODULES = {module_of(p): p for p in ROOT.rglob("*.rs")}
PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+)(?:::\{([^;]*?)\})?")


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def expand(prefix: list, group: str) -> list:
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e] (prefix already split)."""
    out, depth, item = [], 0, ""
    for ch in group + ",":
        if ch == "," and depth == 0:
            item = item.strip()
            if item:
                head, _, inner = item.partition("{")
                head = [p for p in head.strip().rstrip(":").split("::") if p]
                if inner:
                    out += expand(prefix + head, inner.rsplit("}", 1)[0])
                else:
                    out.append(prefix + head)
            item = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        item += ch
    return out


def deepest(parts: list):
    for n in range(len(parts), 0, -1):
        if tuple(parts[:n]) in MODULES:
            return tuple(parts[:n])
    return None


def edges_of(module: tuple, path: Path):
    text = strip_comments(path.read_text())
    # `super` from a file `a/b.rs` (module a::b) is `a`; from `a/mod.rs` too the parent of a.
    for m in PATH.finditer(text):
        kind, rest, group = m.group(1), m.group(2), m.group(3)
        parts = [p for p in rest.split("::") if p]
        base = list(module) if kind == "self" else [] if kind == "crate" else list(module[:-1])
        while parts and parts[0] == "super":
            parts.pop(0)
            base = base[:-1]
        full = [base + parts] if group is None else expand(base + parts, group)
        for f in full:
            target = deepest(f)
            if target is not None and target != module:
                yield target


def main() -> int:
    edges = {m: set(edges_of(m, p)) for m, p in MODULES.items()}
    circles = []
    parents = {m[:-1] for m in MODULES if m}
    for parent in sorted(parents):
        children = sorted({m[: len(parent) + 1] for m in MODULES if len(m) > len(parent) and m[: len(parent)] == parent})
        reach = {}
        for c in children:
            reach[c] = set()
            for m, targets in edges.items():
                if m[: len(c)] != c:
                    continue
                for t in targets:
                    if len(t) > len(parent) and t[: len(parent)] == parent and t[: len(c)] != c:
                        reach[c].add(t[: len(parent) + 1])
        # Strongly connected components among the siblings (Tarjan).
        index, low, stack, on, sccs = {}, {}, [], set(), []

        def visit(v):
            index[v] = low[v] = len(index)
            stack.append(v)
            on.add(v)
            for w in sorted(reach[v]):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                scc = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    scc.append(w)
                    if w == v:
                        break
                if len(scc) > 1:
                    sccs.append(sorted(scc))

        for c in children:
            if c not in index:
                visit(c)
        circles += sccs
    for scc in circles:
        names = ["::".join(m) for m in scc]
        # Name the files that close the circle, so the fix is one look away.
        why = []
        for a in scc:
            for m, targets in sorted(edges.items()):
                if m[: len(a)] != a:
                    continue
                for t in sorted(targets):
                    for b in scc:
                        if b != a and t[: len(b)] == b:
                            why.append(f"{MODULES[m]} -> {'::'.join(t)}")
        print(f"import circle: {' <-> '.join(names)}")
        for w in sorted(set(why)):
            print(f"    {w}")
    if circles:
        print(f"{len(circles)} import circle(s) between modules")
        return 1
    print("no import circles between modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
