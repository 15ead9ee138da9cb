"""neurram: memory for AI agents that behaves like a brain's.

Memories are encoded, held in a 7-slot working memory, strengthened when recalled, forgotten
when ignored, and consolidated while the agent is idle. Every brain region is an actor on
Redis Streams; :class:`Brain` is the client facade.
"""

from neurram.brain import Brain
from neurram.dynamics import compute_retention, time_until_forgotten
from neurram.encoder import Encoder, HashEncoder, SentenceTransformerEncoder
from neurram.engram import Engram, Explanation, Layer, MemoryType
from neurram.errors import (
    BrainAccessDeniedError,
    BrainClosedError,
    BrainUnavailableError,
    ConfigurationError,
    ContentTooLargeError,
    EncoderUnavailableError,
    ImportFormatError,
    ImportInterruptedError,
    InvalidInputError,
    InvalidItemError,
    ModelMismatchError,
    NeurramError,
    UnknownEngramError,
    UnknownMemoryTypeError,
)
from neurram.regions.amygdala import Amygdala
from neurram.regions.basal_ganglia import BasalGanglia
from neurram.regions.cerebellum import Cerebellum
from neurram.regions.hippocampus import Hippocampus
from neurram.regions.neocortex import Neocortex
from neurram.regions.prefrontal_cortex import PrefrontalCortex
from neurram.regions.sensory_cortex import SensoryCortex
from neurram.regions.sleep_cycle import SleepCycle
from neurram.regions.thalamus import Thalamus
from neurram.runtime.actor import Actor
from neurram.runtime.transfer import ImportReport
from neurram.settings import Settings

__all__ = [
    "Actor",
    "Amygdala",
    "BasalGanglia",
    "Brain",
    "BrainAccessDeniedError",
    "BrainClosedError",
    "BrainUnavailableError",
    "Cerebellum",
    "ConfigurationError",
    "ContentTooLargeError",
    "Encoder",
    "EncoderUnavailableError",
    "Engram",
    "Explanation",
    "HashEncoder",
    "Hippocampus",
    "ImportFormatError",
    "ImportInterruptedError",
    "ImportReport",
    "InvalidInputError",
    "InvalidItemError",
    "Layer",
    "MemoryType",
    "ModelMismatchError",
    "Neocortex",
    "NeurramError",
    "PrefrontalCortex",
    "SensoryCortex",
    "SentenceTransformerEncoder",
    "Settings",
    "SleepCycle",
    "Thalamus",
    "UnknownEngramError",
    "UnknownMemoryTypeError",
    "compute_retention",
    "time_until_forgotten",
]
