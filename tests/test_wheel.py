"""The package as a user installs it: `python -m build` makes an sdist and a
wheel that `twine check` passes; the wheel holds the dataset cards and no
tests or data; installed into a fresh virtual environment (which reuses this
one's torch and other dependencies, so nothing is downloaded), `import
graphmeta`, `graphmeta --help` and `graphmeta datasets` work there, from a
folder outside the source tree, with the cards found."""
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(*argv, cwd=None, env=None):
    p = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, f"{argv}\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend (setuptools) of this environment, no download
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=ROOT)
    return out


def test_build_makes_an_sdist_and_a_wheel_that_twine_accepts(dist):
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    assert "PASSED" in _run(sys.executable, "-m", "twine", "check", *wheels, *sdists)
    names = zipfile.ZipFile(wheels[0]).namelist()
    cards = [n for n in names if n.startswith("graphmeta/datasets/cards/")]
    assert "graphmeta/datasets/cards/deezer-hu.yaml" in cards and len(cards) >= 10
    assert not [n for n in names if n.startswith("tests/") or n.endswith((".csv", ".mat"))]


def test_the_wheel_installs_and_runs_in_a_fresh_environment(dist, tmp_path):
    env_dir = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", env_dir)
    py = env_dir / "bin" / "python"
    site = _run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    # This environment's packages (torch, PyG, ...) after the new one's own:
    # a .pth line adds the directory, not its .pth files, so the editable
    # graphmeta of this checkout is not among them.
    (Path(site) / "reuse.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(py, "-m", "pip", "install", "--no-deps", "--no-index", next(dist.glob("*.whl")))
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("GRAPHMETA_CARDS", "PYTHONPATH")}
    where = _run(py, "-c", "import graphmeta, graphmeta.datasets.download as d; "
                           "print(graphmeta.__file__); print(d.CARDS_DIR)", cwd=away, env=env)
    assert where.splitlines()[0].startswith(str(env_dir)), where     # the wheel's copy
    assert where.splitlines()[1].startswith(str(env_dir)), where
    assert "usage: graphmeta" in _run(env_dir / "bin" / "graphmeta", "--help", cwd=away, env=env)
    rows = {line.split()[0]: line for line in
            _run(env_dir / "bin" / "graphmeta", "datasets", cwd=away, env=env).splitlines()[1:]
            if line.strip()}
    assert "47538" in rows["deezer-hu"] and "84 interests" in rows["deezer-hu"]
    assert "2275 interests" in rows["twitch-fr"]
