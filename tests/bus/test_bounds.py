"""Trimming bounds when a group's pending entries are ACKed between two reads."""

from __future__ import annotations

from typing import Any

from neurram.bus.bounds import oldest_needed


class AckedMeanwhile:
    """XINFO GROUPS still counts pending entries; by XPENDING they have all been ACKed."""

    async def xinfo_groups(self, stream: str) -> list[dict[str, Any]]:
        return [
            {"name": b"fast", "pending": 2, "last-delivered-id": b"5-0"},
            {"name": b"slow", "pending": 0, "last-delivered-id": b"7-0"},
        ]

    async def xpending(self, stream: str, group: bytes) -> dict[str, Any]:
        return {"pending": 0, "min": None, "max": None, "consumers": []}


async def test_a_group_whose_pending_vanished_is_bounded_by_its_last_delivery() -> None:
    assert await oldest_needed(AckedMeanwhile(), "s") == "5-0"  # type: ignore[arg-type]
