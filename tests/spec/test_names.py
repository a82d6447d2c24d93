"""Names become folder names, file names and Python identifiers: every name check matches
the whole string, so nothing a spec names can break out of a path, a line or a class."""

from __future__ import annotations

import json

import pytest

import specc
from specc.lang.load import loads

HOSTILE = {
    "trailing newline": "tiny\n",
    "inner newline": "ti\nny",
    "NUL": "tiny\x00",
    "Cyrillic look-alike": "t\u0456ny",
    "fullwidth letters": "\uff54\uff49\uff4e\uff59",
    "path separator": "a/b",
    "parent folder": "..",
    "backslash": "a\\b",
    "space": "ti ny",
    "too long": "a" * 65,
    "empty": "",
}
BASE = """\
format: 1
name: tiny
stem: {channels: 8}
stages:
  - {block: mbconv, channels: 8}
presets:
  p1: {width: 1.0, depth: 1.0, resolution: 32}
"""


def load_with(**fields: object):
    text = BASE
    for key, value in fields.items():
        line = f"{key}: {json.dumps(value)}\n"
        if key == "presets":
            text = text.split("presets:")[0] + line
        elif f"\n{key}:" in text:
            text = "\n".join(
                line.rstrip("\n") if row.startswith(f"{key}:") else row for row in text.splitlines()
            )
        else:
            text += line
    return loads(text, "x.yaml")


def test_the_base_spec_loads():
    assert load_with().spec.python_class == "Tiny"


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_spec_name(case):
    with pytest.raises(specc.SpecError, match=r"^x\.yaml:2:1: name: .* is not a safe name"):
        load_with(name=HOSTILE[case])


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_class_name(case):
    value = HOSTILE[case].capitalize() if HOSTILE[case] else ""
    with pytest.raises(specc.SpecError, match=r"class_name: .* is not a valid class name"):
        load_with(class_name=value)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_preset_name(case):
    name = HOSTILE[case] if case != "too long" else "p" * 33
    with pytest.raises(specc.SpecError, match=r"presets: preset names must be"):
        load_with(presets={name: {"width": 1.0, "depth": 1.0, "resolution": 32}})


@pytest.mark.parametrize("word", ["None", "True", "False"])
def test_reserved_words_cannot_name_the_class(word):
    with pytest.raises(specc.SpecError, match=rf"class_name: '{word}' is not a valid class"):
        load_with(class_name=word)
    # ...nor can a spec name from which the class name is derived.
    with pytest.raises(specc.SpecError, match=rf"name '{word.lower()}' gives the class name"):
        load_with(name=word.lower())


def test_longest_names_that_are_allowed():
    loaded = load_with(name="a" * 64, presets={"p" * 32: {"width": 1, "depth": 1, "resolution": 8}})
    assert loaded.spec.name == "a" * 64
    assert load_with(class_name="A" * 64).spec.python_class == "A" * 64


def test_a_class_name_that_clashes_with_a_generated_block_is_refused():
    arch_error = pytest.raises(specc.SpecError, match="class_name: class name 'MBConv' clashes")
    with arch_error:
        specc.emit_pytorch(specc.compile(load_with(class_name="MBConv")))
