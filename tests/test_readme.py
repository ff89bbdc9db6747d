"""The README's library example: the same code as examples/quickstart.py,
run as written on a networkx graph (``from_networkx``) and, with its data
line swapped for the one its comment names, on the synthetic graph; both
train and score."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _snippet() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    lib = [b for b in blocks if "from graphmeta.meta import MAML" in b]
    assert len(lib) == 1, "the README has one library example"
    return lib[0]


def test_the_readme_example_is_the_quickstart_example():
    code = (ROOT / "examples" / "quickstart.py").read_text()
    body = code[code.index('"""', 3) + 4:]          # after the module docstring
    assert body.strip() == _snippet().strip()
    assert len(_snippet().strip().splitlines()) <= 26


@pytest.mark.parametrize("graph", ["from_networkx", "synthetic"])
def test_the_readme_example_trains_and_scores(tmp_path, graph):
    code = _snippet()
    if graph == "synthetic":
        line = next(ln for ln in code.splitlines() if ln.startswith("data = "))
        other = re.search(r"# or (\S+\(.*\))", line).group(1)
        code = code.replace(line, f"import graphmeta.synthetic\ndata = {other}")
    (tmp_path / "example.py").write_text(code)
    p = subprocess.run([sys.executable, str(tmp_path / "example.py")], capture_output=True,
                       text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    scores = eval(p.stdout.strip().splitlines()[-1])
    assert set(scores) == {"auc", "ndcg@10", "recall@10", "recall@20", "mrr"}
    assert scores["auc"] > 0.55, scores         # better than chance after 150 steps
