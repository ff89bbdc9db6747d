"""Checkpoints that know what they belong to.

A checkpoint (``checkpoints/<method>/seed-<s>.pt``) holds the learner's
``state_dict`` together with the method's resolved settings and a
fingerprint of the data and splits it was trained on. Loading one checks
both, so a checkpoint is never silently scored under another spec (a
changed seed would redraw the splits; a changed hidden size would not even
fit), and a truncated or corrupted file is named.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from graphmeta import io as gio
from graphmeta.errors import CheckpointError

FORMAT = 1


def path_of(run_dir: Path, method: str, seed: int) -> Path:
    return Path(run_dir) / "checkpoints" / method / f"seed-{seed}.pt"


def fingerprint(data: Any, splits: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The graph's size and a hash of the splits: what a checkpoint's
    numbers depend on besides its settings."""
    h = hashlib.sha256()
    for name in sorted(splits):
        h.update(name.encode())
        h.update(splits[name].cpu().numpy().tobytes())
    return {"nodes": int(data.num_nodes), "edges": int(data.edge_index.size(1)),
            "splits": h.hexdigest()[:16]}


def save(run_dir: Path, method: str, seed: int, learner: nn.Module, settings: str,
         data: dict[str, Any]) -> Path:
    """Writes ``learner``'s state with its method, seed, resolved
    ``settings`` (JSON) and data fingerprint."""
    return gio.save_torch(path_of(run_dir, method, seed), {
        "format": FORMAT, "method": method, "seed": seed, "settings": settings, "data": data,
        "state_dict": learner.state_dict()})


def same_settings(saved: Any, now: str) -> bool:
    """Whether a checkpoint's recorded settings ``saved`` are the resolved
    settings ``now`` (both JSON from :meth:`RunSpec.key`; the same
    settings whatever the order of their keys)."""
    if saved == now:
        return True
    try:
        return json.loads(saved) == json.loads(now)
    except (TypeError, ValueError):
        return False


def settings_diff(saved: Any, now: str) -> list[str]:
    """``"key: saved -> now"`` for each setting that differs."""
    try:
        old, new = _flat(json.loads(saved)), _flat(json.loads(now))
    except (TypeError, ValueError):
        return ["no settings recorded"]
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix.rstrip("."): d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}."))
    return out


def load(run_dir: Path, method: str, seed: int, learner: nn.Module, settings: str,
         data: dict[str, Any], device: torch.device | str = "cpu") -> None:
    """Loads the checkpoint of ``method`` at ``seed`` into ``learner``, or
    raises :class:`CheckpointError` saying what does not match."""
    path = path_of(run_dir, method, seed)
    if not path.exists():
        others = sorted(p.stem for p in path.parent.glob("seed-*.pt"))
        hint = (f" (there are {', '.join(others)}: did config.yaml's seed change?)"
                if others else "")
        raise CheckpointError(f"{path}: no checkpoint for method {method!r}, seed {seed}{hint}")
    try:
        ck = torch.load(path, weights_only=True, map_location=device)
    except Exception as e:
        raise CheckpointError(f"{path}: unreadable, truncated or corrupted "
                              f"({type(e).__name__}); train that method again") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a graphmeta checkpoint of format {FORMAT}")
    if ck["data"] != data:
        raise CheckpointError(
            f"{path}: trained on other data or splits (saved {ck['data']}, now {data}); "
            f"did the dataset or config.yaml's seed or split change?")
    if not same_settings(ck["settings"], settings):
        diff = settings_diff(ck["settings"], settings)
        raise CheckpointError(f"{path}: trained under other settings ({'; '.join(diff[:5])})")
    try:
        learner.load_state_dict(ck["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: does not fit {method!r} as the spec builds it "
                              f"({first})") from None


__all__ = ["fingerprint", "load", "path_of", "same_settings", "save", "settings_diff"]
