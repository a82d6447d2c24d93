"""Hostile specs: parser limits and strict types.

Each limit is refused quickly with `file[:line:col]: what limit, what was found`, never by
running out of time, memory or stack; a spec is typed, so booleans and strings are not
numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import specc
from specc.lang.load import loads
from specc.lang.source import MAX_BYTES, MAX_DEPTH, MAX_VALUES

B0 = Path(__file__).resolve().parents[2] / "specs" / "b0.yaml"


# What "refused at once" allows: CPU time of this process, not wall time (a loaded machine
# slows the wall clock, not the work), and far below what an expansion or a deep recursion
# would take (minutes, or a crash).
AT_ONCE_S = 5.0


def refused(text: str, file: str = "x.yaml") -> str:
    start = time.process_time()
    with pytest.raises(specc.SpecError) as excinfo:
        loads(text, file)
    assert time.process_time() - start < AT_ONCE_S
    (diagnostic,) = excinfo.value.diagnostics
    return str(diagnostic)


def alias_bomb(levels: int, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [6, 9, 12])
def test_alias_bombs_are_refused_at_once(levels):
    message = refused(alias_bomb(levels))
    sizes = [10]  # a0: the list and its nine scalars
    for _ in range(levels):
        sizes.append(1 + 9 * sizes[-1])
    expanded = 1 + sum(1 + size for size in sizes)  # the root, and each key with its list
    assert message == (
        f"x.yaml:2:10: aliases expand the document to {expanded:,} values, "
        f"over the limit of {MAX_VALUES:,} values"
    )


def test_aliases_within_the_limit_still_work_and_are_independent_copies():
    text = B0.read_text().replace(
        "  - {block: mbconv, expand: 6, kernel: 3, stride: 2, channels: 24, repeats: 2, se: 0.25}",
        "  - &second {block: mbconv, expand: 6, kernel: 3, stride: 2, channels: 24, repeats: 2,"
        " se: 0.25}\n  - *second",
        1,
    )
    loaded = loads(text, "x.yaml", ["stages[2].kernel=5"])
    assert [s.kernel for s in loaded.spec.stages[1:3]] == [3, 5]
    assert loaded.locate("stages", 2, "channels").line == loaded.locate("stages", 2).line == 32


@pytest.mark.parametrize(
    "text",
    ["a: " + "[" * 5000 + "\n", "a: " + "{b: " * 5000 + "\n"],
    ids=["flow sequences", "flow mappings"],
)
def test_deep_nesting_is_a_located_message_not_a_recursion_error(text):
    message = refused(text)
    assert message.startswith("x.yaml:1:")
    assert message.endswith(f": nesting deeper than the limit of {MAX_DEPTH} levels")


def test_deep_block_nesting_is_refused_too():
    text = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n"
    assert refused(text).endswith(f"nesting deeper than the limit of {MAX_DEPTH} levels")


def test_files_over_the_size_limit_are_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    body = B0.read_text()
    path.write_text("# padding\n" * (MAX_BYTES // 10) + body)
    size = path.stat().st_size
    start = time.process_time()
    with pytest.raises(specc.SpecError) as excinfo:
        specc.load(path)
    assert time.process_time() - start < AT_ONCE_S
    assert str(excinfo.value) == (
        f"{path}: the file is {size:,} bytes, over the limit of {MAX_BYTES:,} bytes (1 MiB)"
    )
    # The same text under the limit loads.
    path.write_text("# padding\n" * (MAX_BYTES // 20) + body)
    assert specc.load(path).spec.name == "efficientnet"


STRICT = {
    "boolean kernel": ("kernel: 3\n", "kernel: true\n", "stem.kernel", "got true (a boolean"),
    "yes repeats": ("repeats: 2,", "repeats: yes,", "stages[1].repeats", "got true (a boolean"),
    "quoted channels": ("channels: 32\n", 'channels: "32"\n', "stem.channels",
                        "got '32' (a string; write the number without quotes)"),
    "boolean stride": ("stride: 2, channels: 24", "stride: on, channels: 24", "stages[1].stride",
                       "got true (a boolean"),
    "fractional channels": ("channels: 32\n", "channels: 32.5\n", "stem.channels",
                            "got 32.5 (a number with a fraction)"),
    "string rate": ("dropout: 0.2", "dropout: '0.2'", "classifier.dropout", "expected a number"),
    "number as a string field": ("description:", "description: 5 #", "description",
                                 "expected a string, got 5"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(STRICT))
def test_types_are_strict_with_messages_a_person_reads(case, write_spec):
    old, new, field, words = STRICT[case]
    path = write_spec((old, new))
    with pytest.raises(specc.SpecError) as excinfo:
        specc.load(path)
    (message,) = [str(d) for d in excinfo.value.diagnostics]
    assert f": {field}: " in message and words in message, message
    assert message.startswith(f"{path}:") and message.split(":")[1].isdigit()


def test_integers_are_still_numbers_and_exponents_are_floats(write_spec):
    path = write_spec(("eps: 1.0e-3", "eps: 1e-3"), ("dropout: 0.2", "dropout: 0"))
    loaded = specc.load(path, ["defaults.norm.eps=1e-5", "stages[5].repeats=5"])
    assert loaded.spec.defaults.norm.eps == 1e-5
    assert loaded.spec.stages[5].repeats == 5
    assert loaded.spec.classifier.dropout == 0.0
    assert specc.load(path).spec.defaults.norm.eps == 1e-3


def test_set_is_as_strict_as_the_file(b0):
    with pytest.raises(specc.SpecError) as excinfo:
        specc.load(b0.file, ["stages[5].repeats=true", 'stem.channels="8"'])
    text = str(excinfo.value)
    assert "(--set stages[5].repeats=true): stages[5].repeats: expected a whole number" in text
    assert '(--set stem.channels="8"): stem.channels: expected a whole number' in text
    with pytest.raises(specc.SpecError, match="expected true or false, got 'no' \\(a string\\)"):
        specc.load(b0.file, ["scaling.head.at_least_base='no'"])


def test_every_shipped_spec_still_loads():
    root = B0.parents[1]
    for path in [*sorted((root / "specs").glob("*.yaml")), root / "tests" / "data" / "tiny.yaml"]:
        specc.load(path)


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ("{kernel: 1}", "kernel 1 allows padding up to 0, got 1"),
        ("{kernel: 3, padding: 2}", "kernel 3 allows padding up to 1, got 2"),
    ],
)
def test_a_max_pool_padding_over_half_its_kernel_is_refused(pool, message):
    """It built and reported a 17x17 output, but PyTorch's max pool refuses to run it."""
    tiny = B0.parents[1] / "tests" / "data" / "tiny.yaml"
    stem = "stem: {kernel: 3, stride: 2, channels: 8}"
    text = tiny.read_text().replace(stem, stem[:-1] + f", pool: {pool}}}")
    with pytest.raises(specc.SpecError) as excinfo:
        loads(text, "x.yaml")
    assert str(excinfo.value) == "x.yaml:10:43: stem.pool: padding must be at most half the " + (
        f"kernel: {message}"
    )
    fine = text.replace(pool, "{kernel: 1, padding: 0}")
    assert loads(fine, "x.yaml").spec.stem.pool.padding == 0


def test_a_redumped_spec_keeps_exponent_floats_as_numbers():
    from specc.lang.edit import set_scalars

    text = B0.read_text().replace("eps: 1.0e-3", "eps: 1e-3")
    edited, kept = set_scalars(text, {("scaling", "coefficients", "new_key"): 1})
    assert not kept  # a path the file does not spell out: re-dumped
    assert "eps: 0.001" in edited


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a [1, [2, *a]]\n"])
def test_recursive_aliases_are_refused(text):
    assert refused(text) == (
        "x.yaml:1:4: a recursive alias: this collection contains an alias to itself"
    )
