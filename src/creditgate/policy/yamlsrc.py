"""YAML that remembers where each value came from, so errors can name ``file:line``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
MAX_DEPTH = 32  # a policy is a few levels deep; deeper is a mistake or an alias loop


@dataclass
class SourceMap:
    """Line numbers (1-based) of every mapping key and sequence item, by path."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of the deepest part of ``path`` that exists in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1


class YamlSyntaxError(ValueError):
    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line = file, line


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse ``text`` safely (no tags beyond plain YAML) and map paths to lines."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise YamlSyntaxError(file, (mark.line + 1) if mark else 1, str(exc.problem)) from exc
    except yaml.YAMLError as exc:  # e.g. ReaderError: control characters in the text
        raise YamlSyntaxError(file, 1, str(exc).splitlines()[0]) from exc
    source = SourceMap(file)
    if root is None:
        return None, source
    constructor = yaml.SafeLoader("")

    def scalar(node: yaml.Node) -> Any:
        """A plain value; a bad tag, a bad date or bad base64 is a syntax error on its line."""
        try:
            return constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            message = str(exc).splitlines()[0]
            raise YamlSyntaxError(file, node.start_mark.line + 1, message) from exc

    def build(node: yaml.Node, path: Path_, depth: int = 0) -> Any:
        source.lines.setdefault(path, node.start_mark.line + 1)
        if depth > MAX_DEPTH:  # also stops aliases that contain themselves
            raise YamlSyntaxError(file, node.start_mark.line + 1, "nested too deeply")
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = scalar(key_node)
                if not isinstance(key, str | int | float | bool):
                    line = key_node.start_mark.line + 1
                    raise YamlSyntaxError(file, line, "keys must be scalars")
                skey = str(key)
                if skey in out:
                    raise YamlSyntaxError(
                        file, key_node.start_mark.line + 1, f"duplicate key {skey!r}"
                    )
                source.lines[(*path, skey)] = key_node.start_mark.line + 1
                out[skey] = build(value_node, (*path, skey), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return scalar(node)

    return build(root, ()), source
