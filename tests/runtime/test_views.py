"""What `neurram inspect` prints: every layer, silent engrams included, under the law given."""

from __future__ import annotations

from neurram.engram import Engram, Layer
from neurram.runtime.views import engram_table

T0 = 1_700_000_000.0


def test_engram_table_lists_silent_engrams_last_with_their_layer() -> None:
    engrams = [
        Engram(content="quiet", engram_id="s" * 12, layer=Layer.SILENT, last_accessed=0.0),
        Engram(content="held", engram_id="h" * 12, layer=Layer.WORKING, last_accessed=T0),
    ]
    lines = engram_table(engrams, {"h" * 12}, T0, "power").splitlines()
    assert lines[1].split()[:2] == ["h" * 12, "held"]
    assert lines[2].split()[:2] == ["s" * 12, "silent"]
    assert lines[2].split()[5] == "0.0" and "100.0%" in lines[1]  # hours until forgotten


def test_engram_table_follows_the_law_given() -> None:
    engram = Engram(content="x", stability=1.0, last_accessed=T0 - 3600.0, layer=Layer.WORKING)
    assert "90.0%" in engram_table([engram], set(), T0, "power")
    assert "36.8%" in engram_table([engram], set(), T0, "exponential")
