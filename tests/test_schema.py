"""The schema: each key declared once, its default valid under its own rules."""
import dataclasses

from graphmeta.config import check_value
from graphmeta.schema import DEFAULTS, SECTIONS


def test_every_default_passes_its_own_check_and_choices_hold_the_default():
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            value = DEFAULTS[section][f.name]
            assert check_value(f"{section}.{f.name}", value, "defaults") == value
            if f.metadata["choices"]:
                assert value in f.metadata["choices"], (section, f.name)
