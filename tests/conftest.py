import pytest
import torch

from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import UserInterestTasks


def pytest_collection_modifyitems(config, items):
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
