"""BasalGanglia: long-term store of habits, modulated by a dopamine-style reward."""

from __future__ import annotations

from neurram.engram import Engram
from neurram.regions.long_term import LongTermActor, LongTermRegion


class BasalGanglia(LongTermRegion):
    """Reward r in [0, 1]: stability >= 1 + 4r, salience += 0.2r, r recorded in context.
    A stimulus with reward above ``shortcut`` comes here directly."""

    region = "basal_ganglia"

    def __init__(self, shortcut: float = 0.3) -> None:
        self.shortcut = shortcut

    def takes_shortcut(self, reward: float) -> bool:
        return reward > self.shortcut

    def shape(self, engram: Engram, reward: float) -> None:
        reward = reward or float(engram.context.get("reward", 0.0))
        engram.stability = max(engram.stability, 1.0 + 4.0 * reward)
        engram.salience = min(1.0, engram.salience + 0.2 * reward)
        engram.context["reward"] = reward


class BasalGangliaActor(LongTermActor):
    region = "basal_ganglia"

    async def setup(self) -> None:
        self.logic = BasalGanglia(self.settings.reward_shortcut)
