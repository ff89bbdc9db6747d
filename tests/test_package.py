"""The package's shape: module sizes and no import cycles."""
import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "graphmeta"
LIMIT = 300


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def test_no_module_above_the_limit_without_a_stated_reason():
    over = []
    for name, path in _modules():
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > LIMIT and f"Over {LIMIT} lines:" not in doc:
            over.append(name)
    assert not over, f"modules over {LIMIT} lines without 'Over {LIMIT} lines: <why>': {over}"


def _imports(name, path, known):
    """Modules imported at import time (function bodies and TYPE_CHECKING
    blocks excluded), with each one's parent packages, which Python runs first."""
    tree = ast.parse(path.read_text())
    out = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.ClassDef):
                visit(node.body)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                if node.level:
                    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
                    base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                                    + [node.module])
                out.add(base)
                out.update(f"{base}.{a.name}" for a in node.names)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(getattr(node, "body", []) + getattr(node, "orelse", [])
                      + [h for h in getattr(node, "handlers", [])])
    visit(tree.body)
    edges = set()
    for mod in out:
        parts = mod.split(".")
        for i in range(1, len(parts) + 1):
            m = ".".join(parts[:i])
            # A package that contains this module is already being imported
            # when this module runs; importing its other submodules is fine.
            if m in known and m != name and not name.startswith(m + "."):
                edges.add(m)
    return edges


def test_no_import_cycles():
    mods = dict(_modules())
    graph = {name: _imports(name, path, mods) for name, path in mods.items()}
    # A package's own __init__ importing its submodules is not a cycle;
    # a submodule importing back into its package's __init__ before that is.
    state, stack, cycles = {}, [], []

    def dfs(n):
        state[n] = 1
        stack.append(n)
        for m in graph[n]:
            if n.startswith(m + ".") and graph.get(m) and n in graph[m]:
                continue  # the package __init__ runs first and imports n itself
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                dfs(m)
        stack.pop()
        state[n] = 2

    for n in graph:
        if n not in state:
            dfs(n)
    assert not cycles, cycles


def test_the_checker_sees_a_cycle(tmp_path, monkeypatch):
    """The cycle test can fail: two modules importing each other."""
    pkg = tmp_path / "graphmeta"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from graphmeta.b import x\n")
    (pkg / "b.py").write_text("import graphmeta.a\nx = 1\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", pkg)
    with pytest.raises(AssertionError, match="graphmeta.a"):
        test_no_import_cycles()
