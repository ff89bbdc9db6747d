"""The settings: each key declared once, its default valid under its own
rules, for the global sections and every registered method."""
import dataclasses

from graphmeta.methods import get_method, method_names
from graphmeta.schema import SECTIONS
from graphmeta.settings import Range


def _classes():
    yield from SECTIONS.items()
    for name in method_names():
        yield name, get_method(name).config


def test_every_default_passes_its_own_check_and_choices_hold_the_default():
    for section, cls in _classes():
        default = cls()
        for f in dataclasses.fields(cls):
            value = getattr(default, f.name)
            assert cls.check(f.name, value, "defaults", f"{section}.") == value
            if f.metadata["choices"]:
                assert value in f.metadata["choices"], (section, f.name)


def test_every_tuning_value_passes_its_keys_check():
    for section, cls in _classes():
        for kind in ("user-interest", "few-shot"):
            for key, values in cls.search_space(kind).items():
                if isinstance(values, Range):   # both ends must be valid values
                    values = [int(values.low), int(values.high)] if values.integer \
                        else [float(values.low), float(values.high)]
                assert values and all(cls.check(key, v, "search", f"{section}.") == v
                                      for v in values), (section, key)
            for key, when in cls.search_conditions().items():   # conditions on real values
                for other, value in when.items():
                    assert cls.check(other, value, "when", f"{section}.") == value, (section, key)


def test_the_global_settings_are_few():
    keys = sum(len(dataclasses.fields(c)) for s, c in SECTIONS.items() if s != "synthetic")
    assert keys <= 26, keys     # 25, and eval.negatives: the protocol apart from training
