"""BasalGanglia: long-term store of habits, modulated by a dopamine-style reward."""

from __future__ import annotations

from neurram import dynamics
from neurram.engram import Engram, MemoryType
from neurram.regions.long_term import LongTermActor, LongTermRegion

REWARDED_TYPES = frozenset({MemoryType.HABITUAL, MemoryType.PROCEDURAL})
LTD_SCALE = 0.9  # reward -1 keeps a tenth of the stability, -0.5 about half


class BasalGanglia(LongTermRegion):
    """Reward r in [0, 1]: stability >= 1 + 4r units of ``unit`` hours, salience += 0.2r,
    r recorded in context. A stimulus with reward above ``shortcut`` comes here directly."""

    region = "basal_ganglia"

    def __init__(self, shortcut: float = 0.3, unit: float = dynamics.STABILITY_UNIT) -> None:
        self.shortcut = shortcut
        self.unit = unit

    def takes_shortcut(self, reward: float) -> bool:
        return reward > self.shortcut

    def shape(self, engram: Engram, reward: float) -> None:
        self.dopamine(engram, reward or float(engram.context.get("reward", 0.0)))

    def dopamine(self, engram: Engram, reward: float) -> None:
        """The reward rule, for a reward r in [0, 1]."""
        engram.stability = max(engram.stability, (1.0 + 4.0 * reward) * self.unit)
        engram.salience = min(1.0, engram.salience + 0.2 * reward)
        engram.context["reward"] = reward

    def reinforce(self, engram: Engram, reward: float, now: float) -> None:
        """Feedback after the fact, ``reward`` in [-1, 1]: above 0 the memory helped, so it is
        potentiated (LTP) and, for a habit or a procedure, rewarded by :meth:`dopamine`;
        below 0 it misled, so it is depressed (LTD) by a factor ``1 + LTD_SCALE x reward``."""
        if reward > 0:
            dynamics.potentiate(engram, now, unit=self.unit)
            if engram.memory_type in REWARDED_TYPES:
                self.dopamine(engram, reward)
        elif reward < 0:
            dynamics.depress(engram, 1.0 + LTD_SCALE * reward)


class BasalGangliaActor(LongTermActor):
    region = "basal_ganglia"

    async def setup(self) -> None:
        s = self.settings
        self.logic = BasalGanglia(s.reward_shortcut, s.stability_unit_hours)
