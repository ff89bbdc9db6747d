"""Checkpoints know their settings and data: a changed seed, a changed model
size or a truncated file is named, never scored silently."""
import pytest
import torch
import yaml

from graphmeta.config import load_config
from graphmeta.errors import CheckpointError
from graphmeta.runner import compare, evaluate_run
from tests.helpers import TINY_SETTINGS

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ck") / "run"
    compare(load_config(None, TINY_SETTINGS + ["methods=[maml]"]), out, CPU, progress=False,
            log=lambda s: None)
    return out


def _edit(run_dir, tmp_path, change):
    copy = tmp_path / "copy"
    copy.mkdir(parents=True)
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    change(cfg)
    (copy / "config.yaml").write_text(yaml.safe_dump(cfg))
    (copy / "checkpoints" / "maml").mkdir(parents=True)
    (copy / "checkpoints" / "maml" / "seed-0.pt").write_bytes(
        (run_dir / "checkpoints" / "maml" / "seed-0.pt").read_bytes())
    return copy


def test_a_changed_seed_or_split_is_named(run_dir, tmp_path):
    copy = _edit(run_dir, tmp_path, lambda c: c.update(seed=1))
    with pytest.raises(CheckpointError, match=r"seed 1 \(there are seed-0: did config.yaml's "
                                              r"seed change\?\)"):
        evaluate_run(copy, CPU)
    copy = _edit(run_dir, tmp_path / "b", lambda c: c["tasks"].update(split=[0.6, 0.2, 0.2]))
    with pytest.raises(CheckpointError, match="trained on other data or splits"):
        evaluate_run(copy, CPU)


def test_a_changed_model_is_named(run_dir, tmp_path):
    copy = _edit(run_dir, tmp_path, lambda c: c["maml"].update(hidden=16))
    with pytest.raises(CheckpointError, match=r"other settings \(maml.hidden: 8 -> 16\)"):
        evaluate_run(copy, CPU)


def test_a_truncated_checkpoint_is_named(run_dir, tmp_path):
    copy = _edit(run_dir, tmp_path, lambda c: None)
    path = copy / "checkpoints" / "maml" / "seed-0.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"seed-0.pt: unreadable, truncated or corrupted"):
        evaluate_run(copy, CPU)
    path.unlink()
    with pytest.raises(CheckpointError, match=r"no checkpoint for method 'maml', seed 0"):
        evaluate_run(copy, CPU)


def test_settings_diff_names_what_changed():
    import json
    from graphmeta.checkpoint import same_settings, settings_diff
    old = json.dumps({"maml": {"inner_lr": 0.1, "hidden": 8}, "tasks": {"k_shot": 5}})
    now = {"maml": {"inner_lr": 0.1, "hidden": 8}, "tasks": {"k_shot": 5}}
    assert same_settings(old, json.dumps(now, sort_keys=True))
    now["maml"]["hidden"] = 16
    assert not same_settings(old, json.dumps(now))
    assert settings_diff(old, json.dumps(now)) == ["maml.hidden: 8 -> 16"]
    assert settings_diff(None, json.dumps(now)) == ["no settings recorded"]
