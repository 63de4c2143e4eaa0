"""Write a calibrated policy as the original file with only its cutoffs and version changed.

The text is edited where the values stand (the YAML parser's marks give each scalar's place),
so comments, layout and every other value stay as the author wrote them, and a diff of the two
files shows the floors, the version and the header saying how they were chosen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import yaml

CALIBRATED = re.compile(r"-cal\d{12}$")


def calibrated_version(old: str, stamp: str) -> str:
    """``2026.12.0`` -> ``2026.12.0-cal202611301430`` (a recalibration replaces the stamp)."""
    return CALIBRATED.sub("", old) + f"-cal{stamp}"


def _child(node: yaml.Node, key: str) -> yaml.Node:
    if not isinstance(node, yaml.MappingNode):
        raise ValueError(f"expected a mapping holding {key!r}")
    for k, v in node.value:
        if k.value == key:
            return v  # type: ignore[no-any-return]
    raise ValueError(f"no {key!r} in the policy file")


def rewrite(text: str, cutoffs: Mapping[str, int], version: str, header: Sequence[str] = ()) -> str:
    """``text`` with ``scorecard.cutoffs.<class>`` set to ``cutoffs``, ``policy.version`` to
    ``version`` and ``header`` as comment lines on top."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        raise ValueError("empty policy file")
    edits: list[tuple[int, int, str]] = []
    table = _child(_child(root, "scorecard"), "cutoffs")
    for region_class, value in cutoffs.items():
        node = _child(table, region_class)
        edits.append((node.start_mark.index, node.end_mark.index, str(int(value))))
    node = _child(_child(root, "policy"), "version")
    edits.append((node.start_mark.index, node.end_mark.index, json.dumps(version)))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return "".join(f"# {line}\n".replace("# \n", "#\n") for line in header) + text
