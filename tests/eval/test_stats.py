import math

import numpy as np
import pytest
from scipy import stats

from graphmeta.eval import mean_ci, paired_diff
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
