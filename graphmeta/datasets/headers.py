"""Whether a CSV's first row is a header: one rule for every tabular input.

Every CSV input (``edges.csv``, ``interests.csv``,
``features.csv``, ``labels.csv``) may start with a header row or not, and
one rule (:func:`header_row`) decides which:

- an edge list's first row is a header when it is a known one
  (:data:`EDGE_HEADERS`), or when its fields are not integers while every
  other id is; it is an edge when it shares a node with the other rows
  (or is all integers); a row of string ids that no other row uses could
  be either, and is refused with one line;
- a node file's (interests, features, labels) first row is a header when
  its first field is a column name (:data:`NODE_HEADERS`: ``node``, ``id``,
  ``user``, ...); it is data when that field is a node of the edge list;
  anything else on line 1 is refused with one line, so a row is never
  dropped for looking like a header.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from graphmeta.errors import DataError

# Header rows an edge CSV may start with (case-insensitive).
EDGE_HEADERS = {("source", "target"), ("src", "dst"), ("from", "to"), ("u", "v"),
                ("node_1", "node_2"), ("id_1", "id_2"), ("node1", "node2"), ("user", "friend")}


_INT = re.compile(r"-?[0-9]+")


def is_int(s: str) -> bool:
    """An id written as an ASCII integer (``str.isdigit`` also accepts ``²``)."""
    return _INT.fullmatch(s) is not None


# The first field of a node file's header row (case-insensitive).
NODE_HEADERS = {"node", "id", "node_id", "nodeid", "user", "user_id", "userid", "name", "vertex",
                ""}      # an unnamed index column, as pandas writes one


def header_row(path: Path, first: list[str], *, rest: Optional[list[list[str]]] = None,
               known: Optional[set[str]] = None) -> bool:
    """Whether ``first`` (a CSV's first row) is a header, by the module's
    one rule: an edge list (``rest``: its other rows) or a node file
    (``known``: the edge list's node ids; ``None`` takes any first field
    that is not a column name as a node)."""
    if rest is not None:
        if tuple(f.lower() for f in first) in EDGE_HEADERS:
            return True
        if not rest:
            return False
        ids = {u for row in rest for u in row}
        if all(is_int(u) for u in ids):
            return not any(is_int(f) for f in first)
        if set(first) & ids:
            return False
        raise DataError(f"{path}, line 1: {','.join(first)!r} is not a known header and shares "
                        f"no node with the other rows, so it could be either: name the "
                        f"columns source,target if it is a header, or add the edges of its "
                        f"nodes if it is an edge")
    node = first[0].strip() if first else ""
    if node.lower() in NODE_HEADERS and (known is None or node not in known):
        return True
    if known is None or node in known:
        return False
    raise DataError(f"{path}, line 1: {node!r} is neither a node of the edge list nor a "
                    f"header (a header's first field is empty or one of "
                    f"{', '.join(sorted(NODE_HEADERS - {''}))})")


__all__ = ["EDGE_HEADERS", "NODE_HEADERS", "header_row", "is_int"]
