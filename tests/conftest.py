import pytest
import torch

from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import UserInterestTasks


# The tests that took 8 s or more on the 2-core machine (`pytest
# --durations=60`, 2026-12-02): whole CLI runs, spawned processes,
# interrupted and resumed trainings. They run in `make test-all` (and CI),
# not in `make test`, which stays under 5 minutes. A name without brackets
# covers every parameter of the test.
SLOW = {
    "tests/test_resume.py::test_sigkill_then_resume_equals_an_uninterrupted_run",
    "tests/test_examples.py::test_custom_encoder_example_meta_trains_its_own_layer_batched",
    "tests/test_examples.py::test_distributed_example",
    "tests/test_examples.py::test_custom_method_example_compares_reptile_with_the_built_ins",
    "tests/bench/test_bench.py::test_run_bench_reports_every_section",
    "tests/test_distributed.py::test_two_processes_train_what_one_does",
    "tests/test_distributed.py::test_a_dead_rank_stops_the_other_with_a_clear_error",
    "tests/test_jobs.py::test_an_interrupt_stops_the_workers_and_resume_ends_as_an_uninterrupted_run",
    "tests/test_jobs.py::test_a_method_the_workers_cannot_know_trains_in_line",
    "tests/test_readme.py::test_the_readme_example_trains_and_scores[from_networkx]",
    "tests/test_reliability.py::test_what_graphmeta_does_with_inputs_that_are_not_errors"
    "[raw, unscaled node features]",
    "tests/test_reliability.py::test_what_graphmeta_does_with_inputs_that_are_not_errors"
    "[report without GRAPHMETA_DATA, from elsewhere]",
    "tests/test_reliability.py::test_what_graphmeta_does_with_inputs_that_are_not_errors"
    "[2 test users]",
    "tests/test_reliability.py::test_what_graphmeta_does_with_inputs_that_are_not_errors"
    "[fewer test users than tasks.n_test_tasks]",
    "tests/test_interrupt.py::test_a_signal_anywhere_resumes_to_the_uninterrupted_parameters",
    "tests/test_cli.py::test_a_plugin_method_runs_from_the_command_line",
    "tests/test_cli.py::test_logs_are_plain_lines_when_not_a_terminal_and_tensorboard_events",
    "tests/test_cli.py::test_compare_twice_gives_the_same_results",
    "tests/test_cli.py::test_no_command_prints_a_dependency_warning_the_user_cannot_act_on",
    "tests/test_runner.py::test_compare_few_shot_on_email_runs_every_method",
    "tests/bench/test_scripts.py::test_selection_c_reproduces_the_blends_own_held_out_meta_val_score",
    "tests/test_profile.py::test_the_command_line_prints_the_table_and_writes_profile_json",
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid in SLOW or item.nodeid.split("[")[0] in SLOW:
            item.add_marker(pytest.mark.slow)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _private_dataset_cache(tmp_path_factory):
    """Downloads and processed graphs go to a per-session folder, not ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GRAPHMETA_CACHE", str(tmp_path_factory.mktemp("graphmeta-cache")))
    mp.delenv("GRAPHMETA_MIRROR_URL", raising=False)
    yield
    mp.undo()


@pytest.fixture
def small_tasks():
    """A small synthetic graph in float64 and its task sampler."""
    data = make_social_graph(300, 30, 5, n_blocks=6, p_in=0.08, p_out=0.002, seed=3)
    data.x = data.x.double()
    data.interest_x = data.interest_x.double()
    return UserInterestTasks(data, k_shot=3, n_query=4, max_nodes=12, seed=0)
