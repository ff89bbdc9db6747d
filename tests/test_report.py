"""graphmeta report on a tiny finished run: the markdown and its figures."""
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from graphmeta import datasets
from graphmeta.config import load_config
from graphmeta.errors import RunDirError
from graphmeta.report import write_report
from graphmeta.run import located
from graphmeta.runner import compare
from graphmeta.synthetic import make_social_graph
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
    assert "on the first 10 test tasks" in text
    n_test = json.loads((tmp_path / "results.json").read_text())["n_test_tasks"]
    text = write_report(tmp_path, steps=(0, 1), n_tasks=10 ** 6).read_text()
    assert f"on the first {n_test} test tasks" in text        # what the split holds
    with pytest.raises(RunDirError, match="no results"):
        write_report(tmp_path / "nowhere")


def test_a_run_records_where_its_data_came_from(tmp_path, monkeypatch):
    """A registered dataset read through $GRAPHMETA_DATA: the run's
    config.yaml names the mirror, so report works without the variable and
    from another directory, and a graph that cannot be loaded fails before
    any figure is written."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    torch.save(make_social_graph(240, 12, 6, n_blocks=6, p_in=0.08, seed=0), mirror / "g.pt")

    @datasets.register("mirror-report-test")
    def load_mirror(root):
        return torch.load(Path(root) / "g.pt", weights_only=False)

    try:
        monkeypatch.setenv("GRAPHMETA_DATA", str(mirror))
        run_dir = tmp_path / "run"
        cfg = load_config(None, TINY_SETTINGS + ["dataset.name=mirror-report-test",
                                                 "methods=[maml]"])
        compare(cfg, run_dir, torch.device("cpu"), progress=False, log=lambda s: None)
        saved = yaml.safe_load((run_dir / "config.yaml").read_text())["dataset"]
        assert saved == {"name": "mirror-report-test", "root": str(mirror.resolve())}
        monkeypatch.delenv("GRAPHMETA_DATA")
        monkeypatch.chdir(tmp_path)
        assert (write_report(run_dir, steps=(0, 1), n_tasks=5)).exists()
        (mirror / "g.pt").rename(mirror / "moved.pt")
        shutil.rmtree(run_dir / "figures")
        with pytest.raises(FileNotFoundError):
            write_report(run_dir, steps=(0, 1), n_tasks=5)
        assert not (run_dir / "figures").exists()
    finally:
        datasets.unregister("mirror-report-test")


def test_a_folder_dataset_is_recorded_by_its_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "graph").mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = located(load_config(None, ["dataset.name=graph"]))
    assert cfg.section("dataset").name == str((tmp_path / "graph").resolve())
    synthetic = load_config(None, [])
    assert located(synthetic) is synthetic
