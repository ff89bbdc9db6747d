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


def test_files_get_the_umask_mode_not_the_temp_files(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        p = gio.write_text(tmp_path / "a.txt", "x")
        assert (p.stat().st_mode & 0o777) == 0o644
        os.umask(0o077)
        assert (gio.write_text(tmp_path / "b.txt", "x").stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)
