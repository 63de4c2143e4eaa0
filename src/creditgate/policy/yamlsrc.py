"""YAML that remembers where each value came from, so errors can name ``file:line``.

Budgets run before anything costly: the text's size, then one pass over the parser's events
(linear in the text) bounding nesting depth, aliases and the node count after alias expansion.
A 343-byte "billion laughs" alias bomb or 5,000 nested lists is refused naming its line
instead of costing gigabytes, or a ``RecursionError``, in the composer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
MAX_DEPTH = 32  # a policy is a few levels deep; deeper is a mistake or an alias loop
MAX_CHARS = 200_000  # the packaged policies are under 8,000 characters
MAX_ALIASES = 100  # the packaged policies use none; a few let an author reuse a block
MAX_NODES = 50_000  # values after expanding aliases (the default policy has about 1,500)


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


@dataclass(frozen=True, slots=True)
class SourceIssue:
    """One problem of a YAML file (a policy, a lender directory), at ``file:line``."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"{self.file}:{self.line}:{where} {self.message}"


class YamlSyntaxError(ValueError):
    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line = file, line


def check_budgets(text: str, file: str) -> None:
    """``YamlSyntaxError`` when ``text`` is too large, too deep or expands too far."""
    if len(text) > MAX_CHARS:
        raise YamlSyntaxError(file, 1, f"policy text longer than {MAX_CHARS} characters")
    sizes: dict[str, int] = {}  # anchor -> nodes it stands for, expanded
    frames: list[list[Any]] = [[None, 0]]  # open collections: [anchor, nodes so far]
    aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlSyntaxError(file, line, f"more than {MAX_ALIASES} aliases")
            frames[-1][1] += sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            frames[-1][1] += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(frames) > MAX_DEPTH:
                raise YamlSyntaxError(file, line, f"nested deeper than {MAX_DEPTH} levels")
            frames.append([event.anchor, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes = frames.pop()
            if anchor is not None:
                sizes[anchor] = nodes
            frames[-1][1] += nodes
        if sum(f[1] for f in frames) > MAX_NODES:
            raise YamlSyntaxError(file, line, f"more than {MAX_NODES} values once aliases expand")


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse ``text`` safely (no tags beyond plain YAML) and map paths to lines."""
    try:
        check_budgets(text, file)
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
