"""Typed errors raised where bad input or a broken dependency enters neurram."""


class NeurramError(Exception):
    """Base class of every error neurram raises on purpose."""


class InvalidInputError(NeurramError, ValueError):
    """An argument is malformed; the message says what to pass instead. Nothing was stored."""


class ContentTooLargeError(InvalidInputError):
    """Content exceeds ``max_content_bytes``."""


class UnknownMemoryTypeError(InvalidInputError):
    """A memory type that is not one of :class:`neurram.MemoryType`."""


class UnknownEngramError(InvalidInputError):
    """No engram with that id in this brain (never stored, or forgotten)."""


class ConfigurationError(NeurramError, ValueError):
    """A setting, environment variable or region path cannot be used."""


class BrainUnavailableError(NeurramError, ConnectionError):
    """Redis cannot be reached, or no region answered in time."""


class BrainClosedError(NeurramError, RuntimeError):
    """A call on a Brain after :meth:`neurram.Brain.close`."""


class EncoderUnavailableError(NeurramError, RuntimeError):
    """The embedding model cannot be loaded offline."""
