"""YAML that remembers where each value came from, so errors can name ``file:line``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


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

    def build(node: yaml.Node, path: Path_) -> Any:
        source.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node)
                if not isinstance(key, str | int | float | bool):
                    line = key_node.start_mark.line + 1
                    raise YamlSyntaxError(file, line, "keys must be scalars")
                skey = str(key)
                if skey in out:
                    raise YamlSyntaxError(
                        file, key_node.start_mark.line + 1, f"duplicate key {skey!r}"
                    )
                source.lines[(*path, skey)] = key_node.start_mark.line + 1
                out[skey] = build(value_node, (*path, skey))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        return constructor.construct_object(node)

    return build(root, ()), source
