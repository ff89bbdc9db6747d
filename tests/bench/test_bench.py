"""graphmeta bench, in-process at toy sizes (the measurements themselves are
in docs/PERFORMANCE.md; here: every part runs and reports its keys)."""
import argparse

from graphmeta.bench import add_arguments, format_report, run_bench
from graphmeta.bench.sampling import bench_sampler, random_graph


def _args(*argv):
    ap = argparse.ArgumentParser()
    add_arguments(ap)
    return ap.parse_args(list(argv))


def test_run_bench_reports_every_section():
    args = _args("--tasks", "4", "--hidden", "8", "--repeats", "2", "--loop-repeats", "1",
                 "--throughput-iters", "2", "--skip-sampler", "--memory-steps", "1",
                 "--threads", "1", "--catalogue", "50,400", "--inner-steps", "1")
    r = run_bench(args, log=lambda s: None)
    assert set(r["meta_step_ms"]) == {"batched_second_order", "batched_first_order",
                                      "loop_second_order", "loop_first_order", "fused_fwd_bwd"}
    assert all(v > 0 for v in r["meta_step_ms"].values())
    assert set(r["peak_memory_mb"]) == {"second_order", "first_order"}
    assert r["ratios"]["loop_over_batched_second_order"] > 0
    assert set(r["catalogue"]) == {"50", "400"}
    assert all(v["meta_step_ms"] > 0 and "peak_memory_mb" in v and v["eval_500_users_s"] > 0
               and v["eval_users"] == 500 for v in r["catalogue"].values())
    assert "graphmeta bench: 4 tasks" in format_report(r) and "catalogue sweep" in format_report(r)


def test_sampler_bench_on_a_small_graph():
    s = bench_sampler(random_graph(500), 500, max_nodes=16, tasks=4, n_batches=2, n_khop=2)
    assert s["num_nodes"] == 500 and 1 < s["mean_nodes"] <= 16 and s["speedup"] > 0
