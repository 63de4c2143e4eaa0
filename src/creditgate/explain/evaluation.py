"""One evaluated profile: the input row plus every program binding, readable by name."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from creditgate.schema import PROFILE_FIELDS


class Evaluation:
    __slots__ = ("as_of", "index", "row", "values")

    def __init__(
        self,
        row: Mapping[str, Any],
        values: tuple[Any, ...],
        as_of: date,
        index: Mapping[str, int],
    ) -> None:
        self.row, self.values, self.as_of, self.index = row, values, as_of, index

    def __getitem__(self, binding: str) -> Any:
        return self.values[self.index[binding]]

    def field(self, name: str) -> Any:
        """A raw input field or a derived one, by name."""
        return self.row.get(name) if name in PROFILE_FIELDS else self.values[self.index[name]]
