"""Plug-ins: modules that register methods or datasets from outside the
package, loaded by ``--plugin MODULE_OR_FILE`` or declared by installed
packages under the ``graphmeta.plugins`` entry-point group."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Sequence

_loaded: list[str] = []


def load_plugin(spec: str) -> None:
    """Imports a module by name, or a ``.py`` file by path."""
    path = Path(spec)
    _load(spec, path)
    key = str(path.resolve()) if spec.endswith(".py") else spec
    if key not in _loaded:
        _loaded.append(key)


def _load(spec: str, path: Path) -> None:
    if spec.endswith(".py"):
        if not path.is_file():
            raise FileNotFoundError(f"--plugin {spec}: no such file")
        name = f"graphmeta_plugin_{path.stem}"
        if name in sys.modules:
            return
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        importlib.import_module(spec)


def loaded() -> list[str]:
    """The plug-ins this process loaded (files as absolute paths), in order:
    what a worker process loads to know the same methods and datasets."""
    return list(_loaded)


def installed_plugins() -> list[str]:
    """Modules that installed packages declare under the ``graphmeta.plugins``
    entry-point group (``[project.entry-points."graphmeta.plugins"]``)."""
    return [ep.value for ep in entry_points(group="graphmeta.plugins")]


def from_argv(argv: Sequence[str]) -> list[str]:
    """``--plugin`` values, read before the parser is built (its help lists
    the registered methods, plugins' included)."""
    out = []
    for i, a in enumerate(argv):
        if a == "--plugin" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif a.startswith("--plugin="):
            out.append(a.split("=", 1)[1])
    return out


__all__ = ["from_argv", "installed_plugins", "load_plugin", "loaded"]
