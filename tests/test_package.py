"""The package's shape: module sizes, layers that depend one way, no import
cycles (imports inside functions included), and a meta-learning core that
imports nothing else from graphmeta."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "graphmeta"
LIMIT = 300
# Lowest first: a module imports only from its own layer and those below it.
LAYERS = [
    ("graphmeta.errors", "graphmeta.io", "graphmeta.distributed", "graphmeta.settings",
     "graphmeta.space", "graphmeta.profile",
     "graphmeta.interrupts",
     "graphmeta.plugins"),
    ("graphmeta.datasets", "graphmeta.synthetic"),
    ("graphmeta.tasks",),
    ("graphmeta.features",),
    ("graphmeta.eval",),
    ("graphmeta.models",),
    ("graphmeta.meta",),
    ("graphmeta.methods",),
    ("graphmeta.schema", "graphmeta.config", "graphmeta.spec"),
    ("graphmeta.build", "graphmeta.checks", "graphmeta.train", "graphmeta.tune",
     "graphmeta.optimiser", "graphmeta.checkpoint", "graphmeta.store", "graphmeta.results",
     "graphmeta.rundir"),
    ("graphmeta.run", "graphmeta.jobs"),
    ("graphmeta.runner", "graphmeta.report", "graphmeta.listing"),
    ("graphmeta.bench", "graphmeta.cli", "graphmeta.cliargs", "graphmeta.__main__"),
]
# Only the command line imports graphmeta modules inside functions: importing
# torch and PyG takes seconds, and `graphmeta --version` should not wait.
LAZY_OK = ("graphmeta.cli", "graphmeta.cliargs")


def _modules(pkg=None):
    pkg = pkg or PKG
    for path in sorted(pkg.rglob("*.py")):
        parts = path.relative_to(pkg.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def test_no_module_is_over_the_limit():
    over = [name for name, path in _modules() if len(path.read_text().splitlines()) > LIMIT]
    assert not over, f"modules over {LIMIT} lines: {over}"


def _imports(name, path, known, functions=True):
    """``(module, in_function)`` for each graphmeta module ``name`` imports,
    anywhere in the file (function bodies and TYPE_CHECKING blocks too),
    with each one's parent packages, which Python runs first."""
    tree = ast.parse(path.read_text())
    found = set()

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            if isinstance(child, ast.Import):
                found.update((a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and (child.module or child.level):
                base = child.module or ""
                if child.level:
                    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
                    up = pkg.split(".")[: len(pkg.split(".")) - child.level + 1]
                    base = ".".join(up + ([child.module] if child.module else []))
                found.add((base, in_function))
                found.update((f"{base}.{a.name}", in_function) for a in child.names)
            visit(child, inside)
    visit(tree, False)
    edges = set()
    for mod, in_function in found:
        if in_function and not functions:
            continue
        parts = mod.split(".")
        for i in range(1, len(parts) + 1):
            m = ".".join(parts[:i])
            # A package that contains this module is already being imported
            # when this module runs; importing its other submodules is fine.
            if m in known and m != name and not name.startswith(m + "."):
                edges.add((m, in_function))
    return edges


def _graph(pkg=None):
    mods = dict(_modules(pkg))
    return {name: _imports(name, path, mods) for name, path in mods.items()}


def _cycles(graph):
    state, stack, cycles = {}, [], []

    def dfs(n):
        state[n] = 1
        stack.append(n)
        for m, _ in graph[n]:
            if n.startswith(m + ".") and any(x == n for x, _ in graph.get(m, ())):
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
    return cycles


def test_no_import_cycles_imports_inside_functions_included():
    assert not _cycles(_graph())


def test_the_checker_sees_a_cycle_hidden_in_a_function(tmp_path):
    """The cycle test can fail: two modules importing each other, one of
    them inside a function."""
    pkg = tmp_path / "graphmeta"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from graphmeta.b import x\n")
    (pkg / "b.py").write_text("x = 1\n\n\ndef f():\n    import graphmeta.a\n")
    cycles = _cycles(_graph(pkg))
    assert cycles and "graphmeta.a" in cycles[0]


def _layer(module):
    for i, layer in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in layer):
            return i
    raise AssertionError(f"{module} is in no layer of LAYERS")


def test_layers_depend_one_way():
    upward = [(a, b) for a, edges in _graph().items() for b, _ in edges
              if _layer(b) > _layer(a)]
    assert not upward, f"imports from a higher layer: {upward}"


def test_imports_inside_functions_only_in_the_command_line():
    lazy = sorted({(a, b) for a, edges in _graph().items() for b, inside in edges
                   if inside and not a.startswith(LAZY_OK)})
    assert not lazy, f"graphmeta imports inside functions: {lazy}"


def test_the_meta_learning_core_imports_nothing_else_from_graphmeta():
    static = [(a, b) for a, edges in _graph().items() if a.startswith("graphmeta.meta")
              for b, _ in edges if b != "graphmeta" and not b.startswith("graphmeta.meta")]
    assert not static, static
    code = ("import sys, graphmeta.meta; "
            "print(sorted(m for m in sys.modules if m.startswith(('graphmeta', "
            "'torch_geometric'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(out.stdout)
    assert loaded and all(m == "graphmeta" or m.startswith("graphmeta.meta") for m in loaded), \
        loaded


@pytest.mark.parametrize("module", ["graphmeta.meta.maml", "graphmeta.methods.registry"])
def test_modules_import_on_their_own(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)


def test_every_slow_name_is_a_test():
    """A renamed test must not fall out of conftest's slow list unnoticed."""
    from tests.conftest import SLOW
    root = PKG.parent
    for name in SLOW:
        path, _, func = name.partition("::")
        assert f"def {func.split('[')[0]}(" in (root / path).read_text(), name
