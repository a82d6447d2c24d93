"""Safe YAML reading that remembers where every value came from.

PyYAML's composer gives a node tree with start marks; we build plain Python data from it
(with the safe constructor only, so no tag can construct an arbitrary object) and, beside
it, a map from each value's path to its line and column. Pydantic then validates the plain
data, and its error locations are mapped back through that map. Duplicate keys are an
error here, because YAML silently keeping the last one hides typos.

This module knows nothing about the spec's schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from specc.diagnostics import Diagnostic, Location, SpecError, dotted

Path = tuple[str | int, ...]
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


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
    """Parse `text` as one YAML document, raising SpecError on malformed input."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError([Diagnostic("the file is empty", Location(file, 1, 1))])
        source = Source(file=file, data=None)
        problems: list[Diagnostic] = []
        source.data = _build(node, (), loader, source, problems)
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


def _build(
    node: yaml.Node,
    path: Path,
    loader: yaml.SafeLoader,
    source: Source,
    problems: list[Diagnostic],
) -> Any:
    source.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    where = Location(source.file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        problems.append(Diagnostic(f"tag {node.tag!r} is not allowed", where, dotted(path)))
        return None
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            where = Location(
                source.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1
            )
            if not isinstance(key, str):
                problems.append(
                    Diagnostic(f"keys must be strings, got {key!r}", where, dotted(path))
                )
                continue
            if key in result:
                problems.append(Diagnostic(f"duplicate key '{key}'", where, dotted(path)))
                continue
            result[key] = _build(value_node, (*path, key), loader, source, problems)
            # The key's own position is the most useful place to point at for this field.
            source.marks[(*path, key)] = (where.line or 1, where.column or 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), loader, source, problems)
            for index, item in enumerate(node.value)
        ]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError:
        # The safe constructor knows only plain YAML types; any other tag ends here.
        problems.append(Diagnostic(f"tag {node.tag!r} is not allowed", where, dotted(path)))
        return None


def parse_scalar(text: str) -> Any:
    """Parse one `--set` value as a YAML scalar (or a flow collection such as `[1, 2]`)."""
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as exc:
        raise ValueError(f"not a valid YAML value: {exc}") from None
