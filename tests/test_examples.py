import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SHARED

ROOT = Path(__file__).resolve().parents[1]


def run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_classic_example_runs_and_reports_both_inits():
    p = run("classic_maml.py", "--iterations", "20", "--test-tasks", "50", "--meta-batch", "8")
    assert p.returncode == 0, p.stderr
    assert "meta-learned init" in p.stdout and "random init" in p.stdout
    rows = re.findall(r"^\s*(\d+)\s+[\d.]+ ± [\d.]+\s+[\d.]+ ± [\d.]+$", p.stdout, re.M)
    assert rows == ["0", "1", "5", "10"]


@pytest.mark.skipif(not (SHARED / "deezer_gemsec").exists(), reason="mirror not present")
def test_custom_encoder_example_meta_trains_its_own_layer_batched():
    p = run("custom_encoder.py", "--root", str(SHARED), "--iterations", "100")
    assert p.returncode == 0, p.stderr
    assert "Encoder: batched path" in p.stdout
    auc = float(re.search(r"test users, full ranking: ROC-AUC (\S+)", p.stdout).group(1))
    assert auc > 0.85, p.stdout              # deezer-hu's scorers reach 0.95


def test_custom_loader_example():
    p = run("custom_loader.py")
    assert p.returncode == 0, p.stderr
    for line in ("from_edge_list:", "from_networkx:", "registered: UserInterestTasks",
                 "no code: graphmeta compare --dataset"):
        assert line in p.stdout


def test_custom_method_example_compares_reptile_with_the_built_ins(tmp_path):
    from tests.helpers import TINY
    p = run("custom_method.py", "--out", str(tmp_path), *TINY)
    assert p.returncode == 0, p.stderr
    assert re.search(r"^reptile( \*)?\s+[\d.]+ ± ", p.stdout, re.M), p.stdout
    assert (tmp_path / "checkpoints" / "reptile" / "seed-0.pt").exists()


def test_distributed_example(tmp_path):
    p = subprocess.run(["bash", str(ROOT / "examples" / "distributed.sh")], capture_output=True,
                       text=True, timeout=600, cwd=ROOT,
                       env={**__import__("os").environ, "PY": sys.executable,
                            "OUT": str(tmp_path / "d")})
    assert p.returncode == 0, p.stderr
    rel = float(re.search(r"largest relative parameter difference (\S+)", p.stdout).group(1))
    assert rel < 0.05
