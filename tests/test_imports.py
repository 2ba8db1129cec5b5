"""The import graph of the first-party packages: no cycles, function-level imports included,
and the layering of DESIGN.md (arrows point down only)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("capture", "kinematics", "planning", "pointwm")


def _modules() -> dict[str, Path]:
    """Every first-party module by dotted name (packages by their ``__init__``)."""
    out = {}
    for pkg in PACKAGES:
        for f in sorted((REPO / pkg).rglob("*.py")):
            parts = list(f.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The first-party modules that module ``name`` imports anywhere in its body (module
    level, functions, classes): ``import a.b`` -> a.b; ``from a import b`` -> a.b when that is
    a module, else a. Relative imports are resolved against ``name``'s package."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in known:
                    out.add(sub)
                elif base in known:
                    out.add(base)
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_cycle_through_a_function_level_import(tmp_path):
    """The checker itself, on a hand-made graph and on parsed code: a function-level import
    that closes a loop is a cycle."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    (tmp_path / "m1.py").write_text("import m2\n")
    (tmp_path / "m2.py").write_text("def f():\n    from m1 import x\n    return x\n")
    known = {"m1", "m2"}
    graph = {n: _imports(n, tmp_path / f"{n}.py", known) for n in known}
    assert cycles(graph) == [["m1", "m2"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles (function-level imports included):\n" + "\n".join(" <-> ".join(c) for c in found)


def test_layers_point_down():
    """DESIGN.md's layering: capture and kinematics never import planning or the model;
    planning never imports the model, data, sim, tasks or eval; sim never imports data or
    eval; data never imports eval; tasks never import data or eval."""
    graph = import_graph()
    rules = {
        "capture": ("planning", "pointwm.model", "pointwm.data", "pointwm.sim", "pointwm.tasks", "pointwm.eval"),
        "kinematics": ("planning", "pointwm.model", "pointwm.data", "pointwm.sim", "pointwm.tasks", "pointwm.eval"),
        "planning": ("pointwm.model", "pointwm.data", "pointwm.sim", "pointwm.tasks", "pointwm.eval", "pointwm.train"),
        "pointwm.sim": ("pointwm.data", "pointwm.eval", "pointwm.tasks", "pointwm.train", "pointwm.commands"),
        "pointwm.tasks": ("pointwm.data", "pointwm.eval", "pointwm.train", "pointwm.commands"),
        "pointwm.data": ("pointwm.eval", "pointwm.commands"),
        "pointwm.model": ("pointwm.data", "pointwm.eval", "pointwm.train", "pointwm.commands"),
    }
    bad = []
    for mod, deps in graph.items():
        for layer, banned in rules.items():
            if mod == layer or mod.startswith(layer + "."):
                bad += [f"{mod} -> {d}" for d in deps if any(d == b or d.startswith(b + ".") for b in banned)]
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(bad))
