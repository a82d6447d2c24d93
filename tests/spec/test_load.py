"""Loading specs: located diagnostics, every problem at once, overrides."""

from __future__ import annotations

import pytest

import specc
from specc.lang.load import loads, parse_override_path


def errors(excinfo: pytest.ExceptionInfo[specc.SpecError]) -> list[str]:
    return [str(d) for d in excinfo.value.diagnostics]


def test_b0_states_the_paper_table(b0):
    spec = b0.spec
    assert [s.channels for s in spec.stages] == [16, 24, 40, 80, 112, 192, 320]
    assert [s.repeats for s in spec.stages] == [1, 2, 2, 3, 3, 4, 1]
    assert [s.kernel for s in spec.stages] == [3, 3, 5, 3, 5, 5, 3]
    assert [s.stride for s in spec.stages] == [1, 2, 2, 2, 1, 2, 1]
    assert [s.expand for s in spec.stages] == [1, 6, 6, 6, 6, 6, 6]
    assert spec.stem.channels == 32 and spec.head is not None and spec.head.channels == 1280
    assert sorted(spec.presets) == ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "l2"]


def test_unknown_key_points_at_its_line_with_a_hint(write_spec):
    path = write_spec(("round_limit: 0.9", "round_limt: 0.9"))
    with pytest.raises(specc.SpecError) as excinfo:
        specc.load(path)
    (message,) = errors(excinfo)
    line = next(
        i for i, text in enumerate(path.read_text().splitlines(), 1) if "round_limt" in text
    )
    assert message.startswith(f"{path}:{line}:5: scaling.channels.round_limt: unknown key")
    assert "did you mean 'round_limit'?" in message


def test_every_problem_is_reported_at_once(write_spec):
    path = write_spec(
        ("kernel: 5, stride: 2, channels: 40", "kernel: 4, stride: 3, channels: 0"),
        ("channels: 24, repeats: 2", "channels: many, repeats: 2"),
    )
    with pytest.raises(specc.SpecError) as excinfo:
        specc.load(path)
    messages = errors(excinfo)
    assert len(messages) == 4
    assert any("stages[2].kernel: kernel must be odd" in m for m in messages)
    assert any("stages[2].stride: Input should be 1 or 2" in m for m in messages)
    assert any("stages[2].channels:" in m and "greater than or equal to 1" in m for m in messages)
    assert any("stages[1].channels: expected a whole number, got 'many'" in m for m in messages)
    assert all(m.startswith(f"{path}:") and m.split(":")[1].isdigit() for m in messages)


def test_unknown_block_kind_suggests_the_closest(write_spec):
    path = write_spec(("block: mbconv, expand: 1", "block: mbcnv, expand: 1"))
    with pytest.raises(specc.SpecError) as excinfo:
        specc.load(path)
    (message,) = errors(excinfo)
    assert "stages[0].block: unknown block kind 'mbcnv'" in message
    assert "did you mean 'mbconv'?" in message


def test_duplicate_keys_are_errors():
    with pytest.raises(specc.SpecError, match=r"x.yaml:2:1: duplicate key 'name'"):
        loads("name: a\nname: b\n", "x.yaml")


def test_malformed_yaml_has_a_location():
    with pytest.raises(specc.SpecError, match=r"^x.yaml:\d+:\d+: malformed YAML"):
        loads("format: 1\nstem: {channels: 32\n", "x.yaml")


def test_unsafe_yaml_tags_are_refused():
    with pytest.raises(specc.SpecError, match=r"x.yaml:1:9: format: tag .* is not allowed"):
        loads("format: !!python/object/apply:os.system ['true']\n", "x.yaml")
    with pytest.raises(specc.SpecError, match=r"x.yaml:1:7: name: tag .* is not allowed"):
        loads("name: !!python/name:os.system\n", "x.yaml")


def test_unsupported_format_version(write_spec):
    path = write_spec(("format: 1", "format: 2"))
    with pytest.raises(specc.SpecError, match="spec format 2 is not supported"):
        specc.load(path)


def test_empty_stage_list_is_refused(write_spec, b0_text):
    start = b0_text.index("stages:")
    end = b0_text.index("head:")
    path = write_spec(text=b0_text[:start] + "stages: []\n\n" + b0_text[end:])
    with pytest.raises(specc.SpecError, match=r"stages: List should have at least 1 item"):
        specc.load(path)


def test_name_must_be_a_safe_identifier(write_spec):
    path = write_spec(("name: efficientnet", 'name: "../x; rm -rf"'))
    with pytest.raises(specc.SpecError) as excinfo:
        specc.load(path)
    assert errors(excinfo)[0].startswith(f"{path}:8:1: name: '../x; rm -rf' is not a safe name")


def test_overrides_are_validated_like_the_file(b0):
    loaded = specc.load(b0.file, ["defaults.norm.eps=1e-5", "stages[5].repeats=5"])
    assert loaded.spec.defaults.norm.eps == 1e-5
    assert loaded.spec.stages[5].repeats == 5
    assert loaded.hash != b0.hash

    with pytest.raises(specc.SpecError) as excinfo:
        specc.load(b0.file, ["scaling.channels.divisor=0", "stages[9].kernel=3", "stem.kernel=x"])
    messages = errors(excinfo)
    assert len(messages) == 3
    assert any(
        "(--set stages[9].kernel=3): stages[9].kernel: no item 9 in stages" in m for m in messages
    )
    assert any("(--set stem.kernel=x): stem.kernel:" in m for m in messages)
    assert any(
        "(--set scaling.channels.divisor=0): scaling.channels.divisor:" in m for m in messages
    )


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("stages[2].kernel", ("stages", 2, "kernel")),
        ("stages.2.kernel", ("stages", 2, "kernel")),
        ("scaling.channels.divisor", ("scaling", "channels", "divisor")),
    ],
)
def test_override_paths(text, path):
    assert parse_override_path(text) == path


@pytest.mark.parametrize("text", ["", "a..b", "a[x]", "[2]x"])
def test_malformed_override_paths(text):
    with pytest.raises(ValueError):
        parse_override_path(text)


def test_schema_lists_block_kinds_from_the_registry():
    from specc.blocks.registry import KINDS
    from specc.lang.schema import Spec

    schema = Spec.model_json_schema()
    consts = {
        d["properties"]["block"].get("const")
        for d in schema["$defs"].values()
        if "block" in d.get("properties", {})
    }
    assert set(KINDS) <= consts


def _properties(schema):
    """(model, field, property) of every field in the schema, nested models included."""
    models = [("Spec", schema), *schema["$defs"].items()]
    for model, definition in models:
        for field, prop in definition.get("properties", {}).items():
            yield model, field, prop


def test_every_schema_field_has_a_description():
    """`specc schema` documents every field a spec may hold, so a user never needs the
    source to know what one means."""
    from specc.lang.schema import Spec

    missing = [
        f"{model}.{field}"
        for model, field, prop in _properties(Spec.model_json_schema())
        if not prop.get("description")
    ]
    assert missing == []


def test_schema_offers_kernel_lists_only_to_kinds_that_take_them():
    from specc.blocks.registry import KINDS
    from specc.lang.schema import Spec

    schema = Spec.model_json_schema()
    by_kind = {
        d["properties"]["block"].get("const"): d["properties"]["kernel"]
        for d in schema["$defs"].values()
        if "block" in d.get("properties", {})
    }
    for name, kind in KINDS.items():
        arms = by_kind[name].get("anyOf", [by_kind[name]])
        takes_lists = any(arm.get("type") == "array" for arm in arms)
        assert takes_lists == kind.schema.mixed_kernels, name
    assert {name for name, kind in KINDS.items() if kind.schema.mixed_kernels} == {
        "mbconv",
        "dsconv",
    }
