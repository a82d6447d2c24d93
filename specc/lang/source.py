"""Safe YAML reading that remembers where every value came from.

PyYAML's composer gives a node tree with start marks; we build plain Python data from it
(with the safe constructor only, so no tag can construct an arbitrary object) and, beside
it, a map from each value's path to its line and column. Pydantic then validates the plain
data, and its error locations are mapped back through that map. Duplicate keys are an
error here, because YAML silently keeping the last one hides typos.

A spec is small, so hostile input is refused before it can cost time or memory (each
limit is checked before the work it guards, so a refusal takes milliseconds):

- `MAX_BYTES`: the file's size;
- `MAX_DEPTH`: nesting of mappings and sequences (PyYAML's composer recurses, so a deeper
  document would otherwise end in a RecursionError);
- `MAX_VALUES`: values in the document once aliases are expanded (nine anchors of nine
  references each expand to 9^9 values from a few hundred bytes). The expanded size is
  counted per node, each node once, so the check is linear in the file's size; the
  location map records each node once too, and a value reached through an alias is
  located at the alias. A recursive alias (`a: &a [*a]`, an infinite document) is refused.

Scalars follow YAML 1.1 (PyYAML) except that `1e-5` is a float as in YAML 1.2, not the
string "1e-5": spec types are strict, and this is how people write small numbers.

This module knows nothing about the spec's schema.
"""

from __future__ import annotations

import copy
import errno
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any

import yaml

from specc.diagnostics import Diagnostic, Location, SpecError, dotted

Path = tuple[str | int, ...]
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")

MAX_BYTES = 1 << 20  # 1 MiB; specs/b0.yaml, with every comment, is under 4 KiB
MAX_DEPTH = 64  # nested mappings and sequences; a spec needs 4
MAX_VALUES = 100_000  # values after alias expansion; specs/b0.yaml has about 400

_FLOAT_1_2 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit and YAML 1.2's exponent floats."""

    def __init__(self, stream: str, file: str = "<string>") -> None:
        super().__init__(stream)
        self.file = file
        self.depth = 0
        self.first_alias: yaml.Mark | None = None

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            if self.first_alias is None:
                self.first_alias = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                where = Location(self.file, mark.line + 1, mark.column + 1)
                message = f"nesting deeper than the limit of {MAX_DEPTH} levels"
                raise SpecError([Diagnostic(message, where)])
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789"))


def read_regular(path: str | os.PathLike[str], limit: int = MAX_BYTES) -> bytes:
    """Up to `limit` + 1 bytes of `path` (enough to refuse it as too large), if it is a
    regular file; OSError("not a regular file") for a FIFO, device or folder, found without
    blocking (opening a FIFO for reading waits for a writer for ever)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(2**20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_size(size: int, file: str) -> None:
    """Refuse a spec of `size` bytes past MAX_BYTES, before reading or parsing it."""
    if size > MAX_BYTES:
        message = f"the file is {size:,} bytes, over the limit of {MAX_BYTES:,} bytes (1 MiB)"
        raise SpecError([Diagnostic(message, Location(file))])


@dataclass
class Source:
    """Parsed YAML data with the location of every mapping key, item and value."""

    file: str
    data: Any
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # Paths set on the command line (`--set`) point at the flag, not at the file.
    overridden: dict[Path, str] = field(default_factory=dict)

    def locate(self, path: Path) -> Location:
        """The location of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.overridden:
                return Location(f"{self.file} (--set {self.overridden[prefix]})")
            if prefix in self.marks:
                line, column = self.marks[prefix]
                return Location(self.file, line, column)
        return Location(self.file)


def parse_yaml(text: str, file: str) -> Source:
    """Parse `text` as one YAML document, raising SpecError on malformed or oversized input."""
    check_size(len(text.encode("utf-8", "surrogatepass")), file)
    try:
        loader = SpecLoader(text, file)
    except yaml.reader.ReaderError as exc:  # a control character, checked before parsing
        index = exc.position
        line, column = text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{code:04X} is not allowed in YAML (a control character)"
        raise SpecError([Diagnostic(message, Location(file, line, column))]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError([Diagnostic("the file is empty", Location(file, 1, 1))])
        _check_expansion(node, loader)
        source = Source(file=file, data=None)
        problems: list[Diagnostic] = []
        source.data = _build(node, (), _Walk(loader, source, problems))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "malformed YAML"
        raise SpecError([Diagnostic(f"malformed YAML: {message}", where)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(f"malformed YAML: {exc}", Location(file))]) from None
    finally:
        loader.dispose()
    if problems:
        raise SpecError(problems)
    return source


def _check_expansion(root: yaml.Node, loader: SpecLoader) -> None:
    """Refuse a document whose aliases expand past MAX_VALUES, counting each node once."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # being counted: meeting one again is a cycle

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in open_nodes:
            mark = node.start_mark
            where = Location(loader.file, mark.line + 1, mark.column + 1)
            message = "a recursive alias: this collection contains an alias to itself"
            raise SpecError([Diagnostic(message, where)])
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    found = size(root)
    if found > MAX_VALUES:
        mark = loader.first_alias or root.start_mark
        message = (
            f"aliases expand the document to {found:,} values, "
            f"over the limit of {MAX_VALUES:,} values"
        )
        raise SpecError(
            [Diagnostic(message, Location(loader.file, mark.line + 1, mark.column + 1))]
        )


@dataclass
class _Walk:
    """State of one conversion of a node tree to plain data."""

    loader: yaml.SafeLoader
    source: Source
    problems: list[Diagnostic]
    built: dict[int, Any] = field(default_factory=dict)  # node id -> data, for aliases

    def mark(self, path: Path, node: yaml.Node) -> Location:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        self.source.marks[path] = (line, column)
        return Location(self.source.file, line, column)


def _build(node: yaml.Node, path: Path, walk: _Walk) -> Any:
    where = walk.mark(path, node)
    if id(node) in walk.built:
        # An alias: a copy of the data built at its anchor (so that `--set` on one use does
        # not change the other), located here; the paths below it fall back to this mark.
        return copy.deepcopy(walk.built[id(node)])
    walk.built[id(node)] = data = _build_new(node, path, where, walk)
    return data


def _build_new(node: yaml.Node, path: Path, where: Location, walk: _Walk) -> Any:
    source, problems = walk.source, walk.problems
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        problems.append(Diagnostic(f"tag {node.tag!r} is not allowed", where, dotted(path)))
        return None
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_at = Location(
                source.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1
            )
            key = _scalar(key_node, walk) if isinstance(key_node, yaml.ScalarNode) else key_node
            if not isinstance(key, str):
                shown = "a mapping or a list" if isinstance(key, yaml.Node) else repr(key)
                if key is _REFUSED:
                    shown = f"the tag {key_node.tag!r}"
                problems.append(
                    Diagnostic(f"keys must be strings, got {shown}", key_at, dotted(path))
                )
                continue
            if key in result:
                problems.append(Diagnostic(f"duplicate key '{key}'", key_at, dotted(path)))
                continue
            result[key] = _build(value_node, (*path, key), walk)
            # The key's own position is the most useful place to point at for this field.
            source.marks[(*path, key)] = (key_at.line or 1, key_at.column or 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, index), walk) for index, item in enumerate(node.value)]
    value = _scalar(node, walk)
    if value is _REFUSED:
        problems.append(Diagnostic(f"tag {node.tag!r} is not allowed", where, dotted(path)))
        return None
    return value


_REFUSED = object()


def _scalar(node: yaml.Node, walk: _Walk) -> Any:
    try:
        return walk.loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError:
        # The safe constructor knows only plain YAML types; any other tag ends here.
        return _REFUSED


def parse_scalar(text: str) -> Any:
    """Parse one `--set` value as a YAML scalar (or a flow collection such as `[1, 2]`)."""
    try:
        return yaml.load(text, Loader=SpecLoader) if text.strip() else ""
    except yaml.YAMLError as exc:
        raise ValueError(f"not a valid YAML value: {exc}") from None
