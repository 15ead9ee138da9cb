"""Pieces of the command line that need no process."""

from __future__ import annotations

from neurram.cli.transfer import ImportBars


def test_import_bars_take_a_stage_whose_total_is_not_known_yet() -> None:
    bars = ImportBars()  # disabled here (stderr is no terminal), but fed all the same
    bars("checked", 500, None)
    bars("checked", 800, 800)
    bars("written", 800, 800)
    assert bars.bars["checked"].total == 800 and bars.bars["written"].total == 800
    bars.close()
