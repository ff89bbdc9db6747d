"""graphmeta report on a tiny finished run: the markdown and its figures."""
import pytest
import torch

from graphmeta.config import load_config
from graphmeta.errors import RunDirError
from graphmeta.report import write_report
from graphmeta.runner import compare
from tests.helpers import TINY_SETTINGS


def test_report_writes_every_figure(tmp_path):
    cfg = load_config(None, TINY_SETTINGS + ["methods=[maml, metasgd, finetune, itemknn]",
                                             "*.iterations=6"])
    compare(cfg, tmp_path, torch.device("cpu"), progress=False, log=lambda s: None)
    path = write_report(tmp_path, steps=(0, 1, 3), n_tasks=10)
    text = path.read_text()
    for fig in ("training", "methods", "inner_steps", "rules"):
        assert f"(figures/{fig}.png)" in text, fig
        assert (tmp_path / "figures" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
    assert "| maml |" in text and "| finetune |" in text      # the inner-steps table
    assert "itemknn" not in text.split("## Adaptation")[1].split("##")[0]  # no inner loop
    with pytest.raises(RunDirError, match="no results"):
        write_report(tmp_path / "nowhere")
