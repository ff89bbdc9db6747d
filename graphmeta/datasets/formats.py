"""Small readers shared by the source formats, with errors that name the
file and line.

Headers follow one rule, :func:`graphmeta.datasets.headers.header_row`.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from graphmeta.datasets.headers import header_row, is_int
from graphmeta.errors import DataError, MissingFileError


def read_edge_csv(path: str | Path,
                  header: Optional[Sequence[str] | Sequence[Sequence[str]]] = None,
                  delimiter: str = ",") -> Tensor:
    """Reads an integer edge list ``[2, E]``. ``header`` (one header, or a
    list of accepted ones) is checked against the first line if given."""
    path = _file(Path(path))
    with path.open() as f:
        if header is not None:
            first = [h.strip() for h in f.readline().strip().split(delimiter)]
            accepted = [list(header)] if isinstance(header[0], str) else [list(h) for h in header]
            if first not in accepted:
                want = " or ".join(repr(delimiter.join(h)) for h in accepted)
                raise DataError(f"{path}, line 1: expected header {want}, "
                                 f"got {delimiter.join(first)!r}")
        try:
            arr = np.loadtxt(f, delimiter=delimiter, dtype=np.int64, ndmin=2)
        except ValueError:
            arr = None
    if arr is None or (arr.size and arr.shape[1] != 2):
        _raise_bad_line(path, header is not None, delimiter)
    return torch.from_numpy(arr.reshape(-1, 2).T.copy())


def _raise_bad_line(path: Path, skip_header: bool, delimiter: str) -> None:
    with path.open() as f:
        for no, line in enumerate(f, start=1):
            if (skip_header and no == 1) or not line.strip():
                continue
            parts = line.strip().split(delimiter)
            if len(parts) != 2 or not all(p.strip().lstrip("-").isdigit() for p in parts):
                raise DataError(f"{path}, line {no}: expected two integer node ids, "
                                 f"got {line.strip()!r}")
    raise DataError(f"{path}: could not parse the edge list")


def undirected(edge_index: Tensor, num_nodes: int, keep_self_loops: bool = False) -> Tensor:
    """Both directions, deduplicated, sorted; self loops dropped unless
    ``keep_self_loops`` (for sources that have them)."""
    if not keep_self_loops:
        edge_index, _ = remove_self_loops(edge_index)
    return coalesce(to_undirected(edge_index, num_nodes=num_nodes), num_nodes=num_nodes)


def _file(path: Path) -> Path:
    """``path``, a file that exists (a folder in its place is refused)."""
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: is a directory, expected a file")
    return path


def _text(path: Path) -> str:
    """The UTF-8 text of ``path`` (a leading byte-order mark, as spreadsheet
    exports write one, dropped)."""
    try:
        return _file(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        what = " (UTF-16: re-save it as UTF-8)" if e.start == 0 and \
            path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}){what}") from None


def read_json_object(path: str | Path) -> dict[str, object]:
    """A JSON object keyed by node id (keys as strings)."""
    path = Path(path)

    def once(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out = dict(pairs)
        if len(out) < len(pairs):     # json.loads would silently keep the last
            seen: set[str] = set()
            twice = next(k for k, _ in pairs if k in seen or seen.add(k))
            raise DataError(f"{path}: key {twice!r} appears twice; one entry per node")
        return out
    try:
        obj = json.loads(_text(path), object_pairs_hook=once)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a JSON object keyed by node id")
    return {str(k): v for k, v in obj.items()}


def read_edge_pairs(path: Path) -> list[tuple[str, str]]:
    """CSV (comma-separated) or whitespace-separated pairs, ``#`` comments
    allowed; the first row is a header or an edge by :func:`header_row`."""
    rows: list[tuple[int, list[str]]] = []
    text = _text(path)
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    if "," in first:
        rows = [(no, [f.strip() for f in row]) for no, row in _csv_rows(path, lines)
                if row and "".join(row).strip() and not row[0].lstrip().startswith("#")]
    else:
        rows = [(no, ln.split()) for no, ln in enumerate(lines, start=1)
                if ln.strip() and not ln.lstrip().startswith("#")]
    for no, row in rows:
        if len(row) != 2 or not row[0] or not row[1]:
            raise DataError(f"{path}, line {no}: expected two node ids ('source,target'), "
                            f"got {','.join(row)!r}")
    if rows and header_row(path, rows[0][1], rest=[r for _, r in rows[1:]]):
        rows = rows[1:]
    return [(a, b) for _, (a, b) in rows]


def _csv_rows(path: Path, lines: list[str]) -> list[tuple[int, list[str]]]:
    """CSV rows ``(line, fields)`` of ``lines``. A quote that opens a field
    and is not closed on its line would swallow the lines after it into
    that field (``csv``'s quoted fields may span lines): a DataError naming
    the line instead, since no node id holds a line break."""
    reader = csv.reader(lines)
    out, start = [], 1
    for row in reader:
        if reader.line_num > start:
            raise DataError(f"{path}, line {start}: a quote (\") opens a field that is not "
                            f"closed on that line (it would run on to line "
                            f"{reader.line_num}); remove the stray quote or close it")
        out.append((start, row))
        start = reader.line_num + 1
    return out


def _node_rows(path: Path, known: Optional[set[str]]) -> list[tuple[int, list[str]]]:
    """A node file's non-empty CSV rows ``(line, fields)``, its header left out."""
    rows = [(no, row) for no, row in _csv_rows(path, _text(path).splitlines())
            if row and "".join(row).strip()]
    if rows and header_row(path, rows[0][1], known=known):
        rows = rows[1:]
    return rows


def read_pairs_csv(path: Path, what: str, known: Optional[set[str]] = None
                   ) -> list[tuple[str, str]]:
    """``node,VALUE`` rows (interests, labels); the header by :func:`header_row`."""
    out = []
    for no, row in _node_rows(path, known):
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise DataError(f"{path}, line {no}: expected 'node,{what}', got {','.join(row)!r}")
        out.append((row[0].strip(), row[1].strip()))
    return out


def read_labels(path: Path, known: Optional[set[str]] = None) -> list[tuple[str, str]]:
    """``node,label`` rows, one label per node: a node given two labels is
    refused (the last would silently win)."""
    seen: dict[str, str] = {}
    for node, label in read_pairs_csv(path, "label", known):
        if seen.setdefault(node, label) != label:
            raise DataError(f"{path}: node {node!r} has two labels, {seen[node]!r} and "
                            f"{label!r}; one label per node")
    return list(seen.items())


def read_interests(path: Path, known: Optional[set[str]] = None) -> dict[str, list[str]]:
    if path.suffix == ".json":
        out = {}
        for node, items in read_json_object(path).items():
            if not isinstance(items, list) or any(isinstance(i, (list, dict)) or i is None
                                                  or str(i).strip() == "" for i in items):
                raise DataError(f"{path}: node {node!r}: expected a list of interests "
                                f"(non-empty names), got {items!r}")
            out[node] = [str(i) for i in items]
        return out
    out: dict[str, list[str]] = {}
    for node, item in read_pairs_csv(path, "interest", known):
        out.setdefault(node, []).append(item)
    return out


def read_features(path: Path, known: Optional[set[str]] = None
                  ) -> dict[str, list[float]] | np.ndarray:
    if path.suffix == ".npy":
        _file(path)
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DataError(f"{path}: not a .npy array ({e})") from None
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            raise DataError(f"{path}: expected a 2-D numeric array [num_nodes, F], got "
                            f"shape {arr.shape} of {arr.dtype}")
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):
            raise DataError(f"{path}: row {bad[0][0]}, column {bad[0][1]} is "
                            f"{arr[tuple(bad[0])]}; features must be finite")
        return arr
    if path.suffix == ".json":
        rows = read_json_object(path)
    else:
        rows = {}
        lines: dict[str, int] = {}
        for no, row in _node_rows(path, known):     # node,f0,f1,...
            node = row[0].strip()
            if node in lines:
                raise DataError(f"{path}, line {no}: node {node!r} already has features "
                                f"(line {lines[node]}); one row per node")
            lines[node] = no
            try:
                rows[node] = [float(v) for v in row[1:]]
            except ValueError:
                raise DataError(f"{path}, line {no}: expected 'node,number,...', "
                                f"got {','.join(row)!r}") from None
    dims = {len(v) if isinstance(v, list) else -1 for v in rows.values()}
    if len(dims) > 1 or -1 in dims:
        raise DataError(f"{path}: every node needs a feature list of the same length "
                        f"(found lengths {sorted(dims)})")
    for node, v in rows.items():
        if not all(isinstance(f, (int, float)) and not isinstance(f, bool) and math.isfinite(f)
                   for f in v):
            raise DataError(f"{path}: node {node!r}: features must be finite numbers, got {v!r}")
    return rows


def check_id_forms(files: dict[str, Iterable[str]]) -> None:
    """The same integer written two ways (``007`` here, ``7`` there) would
    silently become two nodes: refuse it, naming both files."""
    seen: dict[int, tuple[str, str]] = {}
    for name, ids in files.items():
        for u in ids:
            if not is_int(u):
                continue
            v = int(u)
            if v in seen and seen[v][0] != u:
                raise DataError(f"{seen[v][1]} writes node id {seen[v][0]!r} and {name} writes "
                                f"{u!r}: the same number written two ways would become two "
                                f"nodes; write ids the same way in every file")
            seen.setdefault(v, (u, name))


def order_ids(ids: Iterable[str]) -> list[str]:
    ids = set(ids)
    try:
        return [str(i) for i in sorted(int(i) for i in ids)] if all(
            str(int(i)) == i for i in ids) else sorted(ids)
    except ValueError:
        return sorted(ids)
