import math

import numpy as np
import pytest
from scipy import stats

from graphmeta.eval import holm, mean_ci, paired_diff, paired_seeds
from graphmeta.eval.stats import MIN_TASKS


def test_mean_ci_is_student_t():
    rng = np.random.default_rng(0)
    v = np.append(rng.uniform(0.4, 1.0, 12), math.nan)
    s = mean_ci(v)
    kept = v[:12]
    assert s["n"] == 12 and math.isclose(s["mean"], kept.mean())
    assert math.isclose(s["ci95"], stats.t.ppf(0.975, 11) * np.std(kept, ddof=1)
                        / math.sqrt(12))
    assert mean_ci([])["n"] == 0


def test_fewer_than_min_tasks_give_no_interval():
    """Two users who agree would give a 0-wide interval: none is given."""
    assert MIN_TASKS == 10
    few = mean_ci([0.5, 0.7, 0.9])
    assert few["n"] == 3 and math.isclose(few["mean"], 0.7) and math.isnan(few["ci95"])
    assert math.isnan(mean_ci([1.0] * (MIN_TASKS - 1))["ci95"])
    assert mean_ci([1.0] * MIN_TASKS)["ci95"] == 0.0
    assert math.isnan(paired_diff([0.0, 0.0], [1.0, 1.0])["ci95"])


def test_paired_interval_is_tighter_than_the_overlap_on_a_constructed_case():
    """Two methods whose per-user scores vary a lot across users but differ
    by a small, steady amount: the separate intervals overlap, the paired one
    excludes zero, and it equals the one-sample t interval of the differences."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.9, 200)                 # users differ a lot
    a, b = base + 0.01 + rng.normal(0, 0.002, 200), base
    ma, mb = mean_ci(a), mean_ci(b)
    assert ma["mean"] - ma["ci95"] < mb["mean"] + mb["ci95"]      # the CIs overlap
    p = paired_diff(a, b)
    assert p["diff"] - p["ci95"] > 0                              # the paired CI excludes 0
    lo, hi = stats.ttest_1samp(a - b, 0).confidence_interval(0.95)
    assert p["diff"] == pytest.approx((lo + hi) / 2) and p["ci95"] == pytest.approx((hi - lo) / 2)
    a[3] = math.nan                                               # a task one method cannot score
    assert paired_diff(a, b)["n"] == 199
    with pytest.raises(ValueError, match="same tasks"):
        paired_diff(a, b[:10])


def test_seed_aware_interval_is_wider_and_covers_when_seeds_dominate():
    # Method a is trained 5 times: each training seed shifts all its users
    # by N(0, 0.02) (seed variance dominates the 0.005 user noise); b is a
    # deterministic scorer. The truth (the expected difference over seeds)
    # is 0.01. The users-only interval misses it most of the time.
    rng = np.random.default_rng(0)
    covered = users_covered = wider = 0
    reps, users = 300, 200
    for _ in range(reps):
        base = rng.normal(0.7, 0.05, users)
        b = base + rng.normal(0, 0.005, users)
        a = base + 0.01 + rng.normal(0, 0.02, (5, 1)) + rng.normal(0, 0.005, (5, users))
        s = paired_seeds(a, b[None])
        u = paired_diff(a.mean(0), b)
        assert s["interval"] == "users+seeds" and s["seeds"] == [5, 1] and s["n"] == users
        assert s["diff"] == pytest.approx(u["diff"])
        covered += abs(s["diff"] - 0.01) <= s["ci95"]
        users_covered += abs(u["diff"] - 0.01) <= u["ci95"]
        wider += s["ci95"] > u["ci95"]
    assert wider == reps
    assert covered / reps >= 0.9, covered / reps          # nominal 0.95
    assert users_covered / reps < 0.5, users_covered / reps
    # With one seed each it is the users-only paired t-interval.
    a, b = rng.normal(size=(1, 50)), rng.normal(size=(1, 50))
    s, u = paired_seeds(a, b), paired_diff(a[0], b[0])
    assert s["interval"] == "users" and s["ci95"] == pytest.approx(u["ci95"])
    assert s["p"] == pytest.approx(stats.ttest_rel(a[0], b[0]).pvalue)


def test_holm_on_a_constructed_case():
    # m = 4: sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, max(0.04, 0.06), max(0.06, 0.06), 0.5
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.3, 0.4]) == pytest.approx([0.6, 0.6])
    out = holm([0.01, float("nan"), 0.04])
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert holm([]) == []
