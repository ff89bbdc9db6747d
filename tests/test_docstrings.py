"""Every public class and function of the documented modules has its own
docstring (the API reference is generated from them)."""
import importlib
import inspect

import pytest

PUBLIC = ["graphmeta.meta", "graphmeta.models", "graphmeta.tasks", "graphmeta.datasets",
          "graphmeta.methods", "graphmeta.eval", "graphmeta.synthetic"]


def _missing(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__ and module.__doc__.strip(), f"{module_name} has no docstring"
    out = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        # a dataclass without one gets its signature as __doc__
        if not doc or not doc.strip() or doc.startswith(f"{obj.__name__}("):
            out.append(f"{module_name}.{name}")
    return out


@pytest.mark.parametrize("module", PUBLIC)
def test_every_public_name_has_a_docstring(module):
    assert _missing(module) == []
