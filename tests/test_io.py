"""Atomic writes: the target appears whole or not at all."""
import pytest

from graphmeta import io as gio


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    gio.write_text(target, "first")

    def broken(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError, match="disk full"):
        gio.atomic(target, broken)
    assert target.read_text() == "first" and sorted(p.name for p in target.parent.iterdir()) == \
        ["file.txt"]
