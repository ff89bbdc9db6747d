"""What ``graphmeta datasets`` and ``graphmeta methods`` print: the
registered datasets with their counts and whether their files are present,
and the registered methods with their own settings."""
from __future__ import annotations

import os
from typing import Optional

from graphmeta import datasets
from graphmeta.datasets.download import cache_dir
from graphmeta.methods import get_method, method_names
from graphmeta.schema import SECTIONS


def datasets_table(root: Optional[str] = None) -> str:
    """One line per registered dataset: format, counts, where its files are."""
    root = root or os.environ.get("GRAPHMETA_DATA")
    lines = [f"{'name':<20} {'format':<14} {'nodes':>7} {'edges':>8} {'targets':<16} local"]
    for name in datasets.names():
        card = datasets.card(name)
        if card is None:
            lines.append(f"{name:<20} {'(user loader)':<14}")
            continue
        c = card.counts
        targets = (f"{c['interests']} interests" if "interests" in c
                   else f"{c['classes']} classes" if "classes" in c else "-")
        where = datasets.locate(name, root)
        local = ("absent" if where is None
                 else "cache" if where == cache_dir() / "raw" else f"mirror {where}")
        lines.append(f"{name:<20} {card.meta.get('format', '?'):<14} {c['nodes']:>7} "
                     f"{c['edges']:>8} {targets:<16} {local}")
    return "\n".join(lines)


def _settings_lines(prefix: str, cls: type, kind: Optional[str] = None) -> list[str]:
    search = cls.search_space(kind) if kind else {}
    when = cls.search_conditions()
    out = []
    for key, default, doc in cls.describe():
        cond = (" when " + ", ".join(f"{o}={v}" for o, v in when[key].items())
                if key in when else "")
        tuned = f"  [tuned over {search[key]}{cond}]" if key in search else ""
        out.append(f"  {prefix}{key} = {default!r}{'  # ' + doc if doc else ''}{tuned}")
    return out


def methods_table(name: Optional[str] = None) -> str:
    """Every registered method (or ``name``) with its kinds, family and own
    settings (``METHOD.key = default``); without a name, also the global keys."""
    lines = []
    for m in ([name] if name else method_names()):
        method = get_method(m)
        lines.append(f"{m}: {method.description} ({method.family}; "
                     f"{', '.join(method.kinds)}; training: {method.training})")
        lines += _settings_lines(f"{m}.", method.config, method.kinds[0])
    if not name:
        lines += ["", "global settings (every run):"]
        for section, cls in SECTIONS.items():
            lines += _settings_lines(f"{section}.", cls)
    return "\n".join(lines)


__all__ = ["datasets_table", "methods_table"]
