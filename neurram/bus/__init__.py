"""The transport: typed messages moved reliably over Redis Streams. Knows nothing of brains."""

from neurram.bus.codec import FIELD, Codec, DecodeError
from neurram.bus.consumer import ConsumerStats, Delivery, StreamConsumer
from neurram.bus.keys import Namespace
from neurram.bus.publish import publish, stage, stage_reply
from neurram.bus.reply import ReplyInbox
from neurram.bus.tail import tail

__all__ = [
    "FIELD",
    "Codec",
    "ConsumerStats",
    "DecodeError",
    "Delivery",
    "Namespace",
    "ReplyInbox",
    "StreamConsumer",
    "publish",
    "stage",
    "stage_reply",
    "tail",
]
