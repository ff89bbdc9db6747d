"""A run directory while it is written: checked before any work, locked,
resumable.

- The directory is checked first: an existing file, a place that cannot be
  written, or an earlier run there (unless resumed, or ``force``) is an
  error before anything is loaded or trained.
- ``.lock`` (created exclusively, holding the process id) keeps two runs from
  writing one directory; a lock whose process is gone is taken over.
- ``state/<method>/seed-<s>.pt``: the resumable training state of a method
  and seed in progress (:class:`~graphmeta.train.Checkpointer`);
  ``state/<method>/seed-<s>.done.pt``: its test scores, history and time
  once it has finished, so a resumed comparison skips it. Both record the
  method's resolved spec and are ignored if it changed.

Everything is written atomically (a temp file, then a rename) and loaded
with ``weights_only=True``.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from graphmeta import io as gio
from graphmeta.checkpoint import same_settings, settings_diff
from graphmeta.errors import RunDirError

# What graphmeta writes into a run directory (``force`` removes these only).
RUN_FILES = ("config.yaml", "results.json", "evaluation.json", "metrics.csv", "per_task.csv",
             "tuning.json", "learning_curve.png", "report.md", "checkpoints", "state", "figures",
             "tensorboard", "profile.json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holds_run(root: Path) -> bool:
    """Whether ``root`` holds a ``train``/``compare`` run (its
    ``config.yaml``); a RunDirError if ``root`` is a file."""
    if root.exists() and not root.is_dir():
        raise RunDirError(f"--out {root}: is a file, not a directory")
    return (root / "config.yaml").exists()


class RunStore:
    """The run directory ``root`` of one ``train``/``compare`` (see the module docstring)."""

    def __init__(self, root: str | Path, *, resume: bool = False, force: bool = False,
                 writer: bool = True) -> None:
        self.root = Path(root)
        self.resume, self.writer = resume, writer
        self._force, self._locked = False, False
        self._adopted: set[Path] = set()
        if not writer:     # another rank of a distributed run writes; this one only reads
            return
        existing = holds_run(self.root)
        if resume and not existing:
            raise RunDirError(f"--resume {self.root}: no run to resume there (no config.yaml)")
        if existing and not (resume or force):
            raise RunDirError(f"{self.root} already holds a run; use --resume to continue it "
                              f"or --force to replace it (or choose another --out)")
        parent = self.root if self.root.is_dir() else _existing_parent(self.root)
        if not os.access(parent, os.W_OK | os.X_OK,
                         effective_ids=os.access in os.supports_effective_ids):
            raise RunDirError(f"--out {self.root}: cannot write in {parent}")
        self._force = force and existing and not resume

    # -- locking ----------------------------------------------------------------
    def __enter__(self) -> "RunStore":
        if not self.writer:
            return self
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(f"--out {self.root}: cannot create it ({e.strerror})") from None
        lock = self.root / ".lock"
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _alive(pid):
                    raise RunDirError(f"{self.root} is being written by another graphmeta "
                                      f"process (pid {pid}, see {lock})") from None
                lock.unlink(missing_ok=True)      # a stale lock: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self._locked = True
            break
        if self._force:
            for name in RUN_FILES:
                p = self.root / name
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._locked:
            (self.root / ".lock").unlink(missing_ok=True)
            self._locked = False

    # -- resumable state -------------------------------------------------------
    def _path(self, method: str, seed: int, suffix: str) -> Path:
        return self.root / "state" / method / f"seed-{seed}{suffix}"

    def load(self, method: str, seed: int, key: str, suffix: str = ".pt") -> Optional[dict]:
        """The saved state of ``method`` at ``seed`` if it was made under the
        same resolved settings ``key``."""
        path = self._path(method, seed, suffix)
        if not (self.resume or path in self._adopted) or not path.exists():
            return None
        try:
            state = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as e:  # truncated or corrupted: start that part again
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise RunDirError(f"{path}: unreadable ({type(e).__name__}: {first}); delete it to "
                              f"train that method again") from None
        return state if same_settings(state.get("key"), key) else None

    def changed(self, method: str, seed: int, key: str) -> Optional[str]:
        """When resuming, what differs between ``key`` and the settings a
        saved state of ``method`` at ``seed`` (in progress, else finished)
        was made under; None if none is saved or the settings match."""
        for suffix in (".pt", ".done.pt"):
            path = self._path(method, seed, suffix)
            if not self.resume or not path.exists():
                continue
            try:
                saved = torch.load(path, weights_only=True, map_location="cpu").get("key")
            except Exception:       # load() names an unreadable file
                return None
            if same_settings(saved, key):
                return None
            diff = settings_diff(saved, key)
            return "; ".join(diff[:5]) + (f"; {len(diff) - 5} more" if len(diff) > 5 else "")
        return None

    def save(self, method: str, seed: int, key: str, state: dict, suffix: str = ".pt") -> None:
        if self.writer:
            gio.save_torch(self._path(method, seed, suffix), {**state, "key": key})

    def finish(self, method: str, seed: int, key: str, metrics: dict[str, np.ndarray],
               history: list[dict], seconds: float, extra: Optional[dict] = None) -> None:
        """Records a finished method and seed and drops its training state."""
        self.save(method, seed, key, {
            "metrics": {k: torch.from_numpy(np.asarray(v, dtype=np.float64))
                        for k, v in metrics.items()},
            "history": history, "seconds": seconds, "extra": json.dumps(extra or {})},
            suffix=".done.pt")
        if self.writer:
            self._path(method, seed, ".pt").unlink(missing_ok=True)

    def adopt(self, method: str, seed: int) -> None:
        """Lets :meth:`finished` read what another process of this run (a
        worker of :mod:`graphmeta.jobs`) recorded for ``method`` at ``seed``."""
        self._adopted.add(self._path(method, seed, ".done.pt"))

    def finished(self, method: str, seed: int, key: str) -> Optional[dict]:
        state = self.load(method, seed, key, suffix=".done.pt")
        if state is None:
            return None
        state["metrics"] = {k: v.numpy() for k, v in state["metrics"].items()}
        state["extra"] = json.loads(state["extra"])
        return state


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


__all__ = ["RUN_FILES", "RunStore", "holds_run"]
