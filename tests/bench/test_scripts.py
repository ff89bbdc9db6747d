"""The analysis scripts under benchmarks/: pool_runs.py on two hand-made run
directories whose paired differences and meta-val choices are known;
pair_runs.py on hand-made runs that share their test tasks or do not;
adaptation_budget.py on a real few-shot run and selection_c.py on a real
user-interest run, each of which must reproduce the meta-val scores its run
logged; selection_fallback.py's nested rule against Selection's own."""
import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from graphmeta.config import load_config
from graphmeta.eval import paired_diff
from graphmeta.runner import compare
from tests.helpers import SHARED

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name="pool_runs"):
    if str(BENCH) not in sys.path:     # the scripts import meta_val.py from beside them
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(path: Path, base, other, val_base, val_other):
    path.mkdir()
    rows = ["method,task,accuracy"]
    rows += [f"base,{t},{v}" for t, v in enumerate(base)]
    rows += [f"other,{t},{v}" for t, v in enumerate(other)]
    rows += [f"scorer,{t},0.9" for t in range(len(base))]     # trains nothing: no meta-val
    (path / "per_task.csv").write_text("\n".join(rows) + "\n")
    (path / "metrics.csv").write_text(
        "method,seed,iteration,train_loss,val_accuracy,seconds\n"
        f"base,0,50,1.0,{val_base - 0.1},1\nbase,0,100,1.0,{val_base},2\n"
        f"other:pretrain,0,50,1.0,0.99,1\n"               # trained in two stages: the
        f"other:meta,0,50,1.0,{val_other},1\n"            # last one's best is what it kept
        f"other:meta,0,100,1.0,{val_other - 0.2},2\n")
    return path


def test_pooled_differences_counts_and_meta_val_agreement(tmp_path, capsys):
    mod = _load()
    a = _run(tmp_path / "split0", [0.5] * 12, [0.6, 0.7] * 6, 0.8, 0.9)   # other +0.15
    b = _run(tmp_path / "split1", [0.5] * 12, [0.4, 0.4, 0.4, 0.3] * 3, 0.8, 0.9)   # -0.125
    test, val = mod.load_run(a, "accuracy")
    assert val == {"base": pytest.approx(0.8),
                   "other": pytest.approx(0.9)}   # best of the last stage
    assert list(test["other"]) == [0.6, 0.7] * 6 and "scorer" not in val
    assert mod.main([str(a), str(b), "--base", "base", "--metric", "accuracy"]) == 0
    out = capsys.readouterr().out
    half = stats.t.ppf(0.975, 11) * np.std([0.1, 0.2] * 6, ddof=1) / np.sqrt(12)
    assert f"| split0 | other | 0.6500 | 0.9000 | +0.1500 ± {half:.4f} |" in out
    assert "| split1 | scorer | 0.9000 | - | +0.4000 ± 0.0000 |" in out     # 12 tasks agree
    # over 2 runs there is no interval (fewer than MIN_TASKS values), not a 0-wide one
    assert "| other | +0.0125 ± - | 1 / 0 / 1 |" in out
    assert "| scorer | +0.4000 ± - | 2 / 0 / 0 |" in out
    # split0: other is best on meta-val and, of the methods with a meta-val score,
    # on test (the scorer, best of all on test, has none); split1: on meta-val only.
    assert "with a meta-val score): 1 of 2" in out


def test_a_missing_method_or_column_is_named(tmp_path):
    mod = _load()
    a = _run(tmp_path / "split0", [0.5] * 2, [0.6] * 2, 0.8, 0.9)
    with pytest.raises(SystemExit, match="no method 'finetune'"):
        mod.pool([a], "finetune", "accuracy")
    with pytest.raises(SystemExit, match="no column 'auc'"):
        mod.pool([a], "base", "auc")
    with pytest.raises(SystemExit, match="no such file"):
        mod.pool([tmp_path / "nowhere"], "base", "auc")


@pytest.mark.skipif(not (SHARED / "email_eu_core").exists(), reason="mirror not present")
def test_adaptation_budget_reproduces_the_runs_own_meta_val_scores(tmp_path, capsys):
    cfg = load_config(None, [f"dataset.root={SHARED}", "dataset.name=email-eu-core",
                             "tasks.kind=few-shot", "methods=[maml, finetune, scratch]",
                             "maml.iterations=4", "*.eval_every=2", "eval.seeds=1",
                             "finetune.pretrain_iterations=4", "finetune.inner_steps=3",
                             "tasks.n_val_tasks=6", "tasks.n_test_tasks=4"])
    compare(cfg, tmp_path, "cpu", progress=False, log=lambda s: None)
    best = {}
    with (tmp_path / "metrics.csv").open() as f:
        for r in csv.DictReader(f):
            best[r["method"]] = max(best.get(r["method"], 0.0), float(r["val_accuracy"]))
    assert _load("adaptation_budget").main([str(tmp_path), "--steps", "5,1",
                                            "--adam-steps", "3"]) == 0
    rows = {ln.split(" | ")[0].strip("| "): ln.strip("| ").split(" | ")[1:]
            for ln in capsys.readouterr().out.splitlines() if ln.startswith("| SGD")
            or ln.startswith("| Adam")}
    assert set(rows) == {"SGD 0.1 x 5", "SGD 0.1 x 1", "Adam 0.01 x 3"}
    # maml at its own budget (SGD 0.1 x 5) and finetune at its own (Adam 0.01 x 3):
    # the kept checkpoints' meta-val scores, as training logged them.
    assert rows["SGD 0.1 x 5"][2].startswith(f"{best['maml']:.3f} ± ")
    assert rows["Adam 0.01 x 3"][1].startswith(f"{best['finetune']:.3f} ± ")


def test_selection_c_reproduces_the_blends_own_held_out_meta_val_score(tmp_path, capsys):
    """The blend logs its 2-fold cross-fitted meta-val score (fitted on the
    even tasks, scored on the odd ones, and the other way round); the
    script's cross-fitting, at the run's C (auto), must give it."""
    from tests.helpers import TINY_SETTINGS
    cfg = load_config(None, TINY_SETTINGS + ["methods=[itemknn, blend]", "tasks.n_val_tasks=24",
                                             "blend.candidates=[itemknn, popularity]",
                                             "blend.fallback=false"])
    compare(cfg, tmp_path, "cpu", progress=False, log=lambda s: None)
    with (tmp_path / "metrics.csv").open() as f:
        logged = [float(r["val_auc"]) for r in csv.DictReader(f) if r["method"] == "blend"]
    script = _load("selection_c")
    [(seed, names, (X, scores, y, mask, _))] = list(script.collect_meta_val(tmp_path))
    assert seed == 0 and names == ["itemknn", "popularity"]
    out, chosen = script.cross_fitted("auto", X, scores, y, mask,
                                      script.candidate_metrics(scores, y, mask))
    assert logged == [pytest.approx(np.nanmean(out["blend"]["auc"]), abs=1e-6)]
    assert all(b in script.CS and c in (*script.CS, None) for b, c in chosen), chosen
    assert script.main([str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.count("| 0 |") == 1 + len(script.CS) and "auto minus C=1" in text
    fallback = _load("selection_fallback")
    assert fallback.main([str(tmp_path)]) == 0
    rows = [r.split(" | ") for r in capsys.readouterr().out.splitlines() if r.startswith("| 0 |")]
    assert [r[1] for r in rows] == ["select-knn", "select-clf", "blend"]
    for r in rows:                  # the rule scores as the selector or as the single candidate
        assert r[4] in (r[2], r[3]) or r[-1].count("selector") == 1, r
    assert _load("selection_headroom").main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("| 0 |") == 2          # one row per metric
    other = tmp_path / "no-blend"
    other.mkdir()
    (other / "config.yaml").write_text((tmp_path / "config.yaml").read_text().replace(
        "- blend\n", ""))
    with pytest.raises(ValueError, match="no-blend: no blend in this run"):
        script.collect_meta_val(other)


def _two_candidates(per_user_best: bool, T=300, S=40, P=8, seed=0):
    """Scores ``[2, T, S]`` of two candidates as good as each other on
    average: either every user's items are ranked by both with independent
    noise (no per-user best), or each user has one candidate that ranks well
    and one that barely does (alternating between users)."""
    rng = np.random.default_rng(seed)
    y = np.zeros((T, S))
    y[:, :P] = 1
    if per_user_best:
        good = np.arange(T) % 2
        signal = np.stack([np.where(good == c, 2.0, 0.3)[:, None] * y for c in (0, 1)])
    else:
        signal = np.stack([y, y])
    return signal + rng.normal(size=(2, T, S)), y, np.ones((T, S), bool)


@pytest.mark.parametrize("per_user_best", [False, True])
def test_split_half_oracle_separates_noise_from_a_real_per_user_best(per_user_best):
    script = _load("selection_headroom")
    res, keep = script.headroom(*_two_candidates(per_user_best))
    assert keep.all()
    r = res["auc"]
    # the full-information oracle leads the best single candidate either way ...
    assert np.mean(r["oracle"]) > np.mean(r["best single"]) + 0.01
    d = paired_diff(r["split-half oracle"], r["best single"])
    if per_user_best:           # ... the split-half oracle only where users have a real best
        assert d["diff"] - d["ci95"] > 0.05
    else:
        assert abs(d["diff"]) < max(d["ci95"], 0.005)


def test_the_fallback_study_decides_as_the_method_does(tmp_path):
    """selection_fallback.py's rule, applied to all of a run's meta-val tasks,
    is the decision the run's meta-selection methods made."""
    from tests.helpers import TINY_SETTINGS
    cfg = load_config(None, TINY_SETTINGS + [
        "methods=[maml, itemknn, select-knn, select-clf, blend]", "tasks.n_val_tasks=24",
        "*.candidates=[maml, itemknn, popularity]", "select-knn.neighbors=5"])
    res = compare(cfg, tmp_path, "cpu", progress=False, log=lambda s: None)
    script = _load("selection_fallback")
    [(_, names, data)] = list(_load("meta_val").collect_meta_val(tmp_path))
    settings = {m: _settings(tmp_path, m) for m in ("select-knn", "select-clf", "blend")}
    for method, (mode, make) in script.selectors(settings).items():
        own, single = script.cross_fit(mode, make, data, "auc")
        ok = ~np.isnan(own) & ~np.isnan(single)
        rep = res["methods"][method]["selection"][0]
        assert rep["val_selector"] == pytest.approx(own[ok].mean(), abs=1e-6)
        assert rep["val_best_single"] == pytest.approx(single[ok].mean(), abs=1e-6)
        best = names[int(np.nanargmax(np.nanmean(data[4], 0)))]
        assert rep["fallback"] == (best if own[ok].mean() <= single[ok].mean() else None)


def _settings(run_dir: Path, method: str):
    """A method's resolved settings, as the run recorded them."""
    from graphmeta.run import prepare
    return prepare(load_config(run_dir / "config.yaml"), "cpu").spec.settings[method]


def _pair_run(path: Path, spec: dict, scores: dict[str, list[float]],
              users: list[int] | None = None) -> Path:
    path.mkdir()
    (path / "results.json").write_text(json.dumps({"spec": spec}))
    if users is None:
        rows = ["method,task,auc,ndcg@10"]
        rows += [f"{m},{t},{v},{v / 2}" for m, vs in scores.items() for t, v in enumerate(vs)]
    else:
        rows = ["method,task,user,auc,ndcg@10"]
        rows += [f"{m},{t},{users[t]},{v},{v / 2}" for m, vs in scores.items()
                 for t, v in enumerate(vs)]
    (path / "per_task.csv").write_text("\n".join(rows) + "\n")
    return path


def test_pair_runs_pairs_task_by_task_and_refuses_different_test_tasks(tmp_path, capsys):
    mod = _load("pair_runs")
    spec = {"seed": 0, "dataset": {"name": "blogcatalog", "root": ""},
            "tasks": {"kind": "user-interest", "k_shot": 1, "test_seed": 12345},
            "eval": {"protocol": "full", "candidates": 0}, "maml": {"query_loss": "ce"}}
    a = _pair_run(tmp_path / "a", spec, {"maml": [0.9, 0.8, 0.7, 0.95]})
    other = {**spec, "maml": {"query_loss": "softmax"}}                     # training may differ
    b = _pair_run(tmp_path / "b", other, {"graph-knn": [0.85, 0.8, 0.6, 0.9]})
    want = paired_diff(np.array([0.9, 0.8, 0.7, 0.95]), np.array([0.85, 0.8, 0.6, 0.9]))
    assert mod.pair(a, "maml", b, "graph-knn", "auc") == want
    assert mod.main([f"{a}:maml", f"{b}:graph-knn", "--metrics", "auc"]) == 0
    assert f"{a}:maml minus {b}:graph-knn  auc  {want['diff']:+.4f} ± {want['ci95']:.4f} (n=4)" \
        in capsys.readouterr().out
    moved = {**spec, "tasks": {**spec["tasks"], "test_seed": 7}}
    c = _pair_run(tmp_path / "c", moved, {"graph-knn": [0.85, 0.8, 0.6, 0.9]})
    with pytest.raises(SystemExit, match="tasks.test_seed is 12345 in the first and 7"):
        mod.pair(a, "maml", c, "graph-knn", "auc")
    with pytest.raises(SystemExit, match="no rows for method 'nope'"):
        mod.pair(a, "nope", b, "graph-knn", "auc")
    # With user ids, users are matched by id, whatever the order or count.
    d = _pair_run(tmp_path / "d", spec, {"maml": [0.9, 0.8, 0.7, 0.95]}, users=[5, 3, 9, 1])
    e = _pair_run(tmp_path / "e", spec, {"itemknn": [0.6, 0.85, 0.8]}, users=[9, 5, 3])
    want = paired_diff(np.array([0.9, 0.8, 0.7]), np.array([0.85, 0.8, 0.6]))
    assert mod.pair(d, "maml", e, "itemknn", "auc") == want
    f = _pair_run(tmp_path / "f", spec, {"itemknn": [0.6]}, users=[4])
    with pytest.raises(SystemExit, match="no test user in common"):
        mod.pair(d, "maml", f, "itemknn", "auc")


@pytest.mark.skipif(not (SHARED / "twitch" / "FR").is_dir(), reason="needs the Twitch mirror")
def test_the_twitch_folder_has_the_counts_of_the_source_and_loads(tmp_path, monkeypatch, capsys):
    from graphmeta.build import build_data
    monkeypatch.setattr(sys, "argv", ["make_twitch_folder.py", "--root", str(SHARED),
                                      "--lang", "FR", "--out", str(tmp_path / "fr")])
    _load("make_twitch_folder").main()
    assert "112666 edges, 6549 users, 2275 interests" in capsys.readouterr().out  # SOURCE.md
    cfg = load_config(None, [f"dataset.name={tmp_path / 'fr'}"])
    data = build_data(cfg.section("dataset"), cfg.section("synthetic"), 0)
    assert data.num_nodes == 6549 and data.interests.shape == (6549, 2275)


def test_profile_batches_times_and_profiles_a_methods_batches(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["profile_batches.py", "--batches", "2", "--top", "5",
                                      "--threads", "1"])
    _load("profile_batches").main()
    out = capsys.readouterr().out
    assert "maml on synthetic: " in out and "ms a training batch (2 batches, 1 threads)" in out
    assert "cumulative" in out


def test_profile_step_times_a_step_and_groups_its_operators(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["profile_step.py", "--steps", "2", "--top", "3",
                                      "--shapes", "2", "--threads", "1",
                                      "--set", "maml.inner_steps=2"])
    threads = torch.get_num_threads()
    mod = _load("profile_step")
    # in-place ops count with their out-of-place kind
    assert mod._group("aten::copy_") == mod._group("aten::fill_") == "copies, views and indexing"
    assert mod._group("aten::add_") == "elementwise"
    try:
        mod.main()
    finally:
        torch.set_num_threads(threads)      # the script sets it for the whole process
    out = capsys.readouterr().out
    assert "maml on synthetic: " in out and "ms a step (2 steps, 1 threads" in out
    assert "matrix products" in out and "elementwise" in out
    listed = out.split("the top 3 operators by own time:")[1].split("\n\n")[0]
    assert len([ln for ln in listed.splitlines() if ln.strip().startswith("aten::")]) == 3
    assert "aten::bmm" in out and "(operator, input shapes)" in out


def test_lowrank_head_is_the_same_meta_loss_as_a_per_task_loop(monkeypatch, capsys):
    mod = _load("lowrank_head")
    torch.manual_seed(1)
    T, S, Q, D, H, steps, lr = 3, 4, 5, 6, 7, 2, 0.3
    p = {"w1": torch.randn(H, D), "b1": torch.randn(H), "w2": torch.randn(2, H),
         "b2": torch.randn(2)}
    p = {k: v.requires_grad_() for k, v in p.items()}
    zs, zq = torch.randn(T, S, D), torch.randn(T, Q, D)
    ys, yq = torch.randint(0, 2, (T, S)), torch.randint(0, 2, (T, Q))

    def net(q, z):
        return torch.relu(z @ q["w1"].t() + q["b1"]) @ q["w2"].t() + q["b2"]
    ce = torch.nn.functional.cross_entropy
    ref = 0
    for t in range(T):          # the plain loop: one task, one autograd.grad a step
        q = dict(p)
        for _ in range(steps):
            g = torch.autograd.grad(ce(net(q, zs[t]), ys[t], reduction="sum"), list(q.values()),
                                    create_graph=True)
            q = {k: v - lr * gk for (k, v), gk in zip(q.items(), g)}
        ref = ref + ce(net(q, zq[t]), yq[t], reduction="sum")
    want = torch.autograd.grad(ref, list(p.values()))
    for low_rank in (False, True):
        loss = mod.meta_loss(p, zs, ys, zq, yq, steps=steps, lr=lr, low_rank=low_rank)
        assert torch.allclose(loss, ref, rtol=1e-5)
        for got, w in zip(torch.autograd.grad(loss, list(p.values())), want):
            assert torch.allclose(got, w, rtol=1e-4, atol=1e-5)
    monkeypatch.setattr(sys, "argv", ["lowrank_head.py", "--tasks", "4", "--iters", "1",
                                      "--rounds", "1", "--threads", "1"])
    threads = torch.get_num_threads()
    try:
        mod.main()
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    gap = float(out.split("largest relative difference ")[1].split()[0])
    assert gap < 1e-4 and "full / low-rank: " in out


def _table(path: Path, kind: str, pairs: dict[str, tuple[float, float]],
           popularity: dict[str, tuple[float, float]] | None = None) -> Path:
    """A table folder whose results.json (and, given ``popularity``, its
    evaluation-popularity.json) holds only what tables.py reads: the
    headline's cells (diff, p) per metric. Each cell's per-table ``p_holm``
    is deliberately not its ``p``: the headline must correct the raw p."""
    path.mkdir()

    def result(cells: dict[str, tuple[float, float]], negatives: str) -> str:
        metrics = {k: {"diff": d, "ci95": 0.01, "p": p, "p_holm": min(1.0, 5 * p), "n": 100,
                       "interval": "users+seeds", "seeds": [5, 1]}
                   for k, (d, p) in cells.items()}
        return json.dumps({
            "dataset": path.name, "task_kind": kind, "metric": next(iter(cells)),
            "n_way": 5, "k_shot": 3,
            "negatives": {"training": "uniform", "evaluation": negatives},
            "headline": {"meta-learner": "maml", "baseline": "rp3beta", "metrics": metrics}})

    (path / "results.json").write_text(result(pairs, "uniform"))
    if popularity is not None:
        (path / "evaluation-popularity.json").write_text(result(popularity, "popularity"))
    return path


def test_the_headline_holms_over_every_cell_and_names_who_wins(tmp_path):
    mod = _load("tables")
    a = _table(tmp_path / "a", "user-interest", {"auc": (0.01, 0.001), "ndcg@10": (-0.02, 0.002)},
               popularity={"auc": (-0.03, 0.3), "ndcg@10": (0.04, 0.02)})
    b = _table(tmp_path / "b", "few-shot", {"accuracy": (-0.05, 0.01)})
    rows = mod.headline([a, b]).splitlines()[2:]
    assert [r.split(" | ")[1] for r in rows] == ["uniform", "popularity", "-"]
    # Holm over the five cells, sorted 0.001, 0.002, 0.01, 0.02, 0.3:
    # 0.005, 0.008, 0.03, then max(0.03, 0.02 * 2) = 0.04, 0.3
    assert rows[0].split(" | ")[5:9] == ["0.005", "-0.0200 ± 0.0100", "0.008",
                                         "maml (ROC-AUC), rp3beta (nDCG@10) |"]
    assert rows[1].split(" | ")[4:9] == ["-0.0300 ± 0.0100", "0.3", "+0.0400 ± 0.0100", "0.04",
                                         "tie (ROC-AUC), maml (nDCG@10) |"]
    assert rows[2].split(" | ")[4:6] == ["-0.0500 ± 0.0100", "0.03"] and rows[2].endswith(
        "| rp3beta |")
    c = _table(tmp_path / "c", "few-shot", {"accuracy": (-0.05, 0.03)})
    d = _table(tmp_path / "d", "few-shot", {"accuracy": (0.05, 0.001)})
    f = _table(tmp_path / "f", "few-shot", {"accuracy": (0.05, 0.04)})
    # 0.001 * 3, then 0.03 * 2 = 0.06: c is a tie, though its own p is 0.03
    assert mod.headline([d, c, f]).splitlines()[3].endswith("| tie |")
    # a corrected p just under 0.05 never prints as 0.05
    assert mod._p(0.0496) == "0.0496" and mod._p(0.0504) == "0.05" and mod._p(0.012) == "0.012"
    with pytest.raises(SystemExit, match=r"missing.results\.json: no such file"):
        mod.headline([tmp_path / "missing"])
    e = _table(tmp_path / "e", "user-interest", {"auc": (0.01, 0.001), "ndcg@10": (0.01, 0.1)})
    with pytest.raises(SystemExit, match=r"e.evaluation-popularity\.json: no such file"):
        mod.headline([e])


def test_the_readme_headline_is_the_committed_tables():
    root = BENCH.parent
    readme = (root / "README.md").read_text()
    command = next(line for line in readme.splitlines()
                   if line.startswith("python benchmarks/tables.py headline "))
    folders = [root / f for f in command.split()[3:]]
    assert folders and all((f / "results.json").is_file() for f in folders)
    tables = _load("tables")
    assert tables.headline(folders) in readme
    # docs/RESULTS.md holds the same headline, its command, and each table's
    # section exactly as tables.py writes it
    results = (root / "docs" / "RESULTS.md").read_text()
    assert command in results and tables.headline(folders) in results
    for f in folders:
        assert tables.section(f) in results, f.name
