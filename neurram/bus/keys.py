"""Key naming: every key of one namespace shares a Redis Cluster hash tag."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Namespace:
    """A key prefix ``neurram:{name}:``; the braces keep a namespace on one cluster shard."""

    name: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("namespace name must not be empty")
        if any(c in "{}" or c.isspace() for c in self.name):
            raise ValueError(
                f"namespace name {self.name!r} must not contain braces or whitespace; "
                "use letters, digits, '-', '_' or '.'"
            )

    @property
    def prefix(self) -> str:
        return f"neurram:{{{self.name}}}:"

    def key(self, *parts: str) -> str:
        """The key ``neurram:{name}:part1:part2...``."""
        return self.prefix + ":".join(parts)
