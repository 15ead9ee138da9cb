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


class BrainAccessDeniedError(NeurramError, PermissionError):
    """Redis refused these credentials, or refused them this brain (its ACL answered NOPERM):
    they are for another brain, or were revoked or rotated (``neurram grant``)."""


class BrainClosedError(NeurramError, RuntimeError):
    """A call on a Brain after :meth:`neurram.Brain.close`."""


class EncoderUnavailableError(NeurramError, RuntimeError):
    """The embedding model cannot be loaded offline."""


class ImportFormatError(InvalidInputError):
    """A line of an import is not a neurram export line; ``line`` is its number (from 1).
    Nothing was written."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line


class InvalidItemError(InvalidInputError):
    """An item of a batch (``Brain.perceive_many``) is malformed; ``index`` is its place (from
    0), the message says what to pass instead. Nothing of the batch was sent."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"item {index}: {reason}")
        self.index = index


class ModelMismatchError(InvalidInputError):
    """An import's embeddings come from a model of another dimension than the brain's.
    Nothing was written; import with ``reencode=True`` (``--reencode``) to re-embed."""


class ImportInterruptedError(NeurramError):
    """An import stopped while writing: ``written`` of ``total`` engrams are stored (whole
    chunks). Importing the same lines again completes it (engrams are written by id)."""

    def __init__(self, written: int, total: int, cause: BaseException) -> None:
        super().__init__(
            f"import interrupted after {written} of {total} engrams ({cause!r}); import the "
            "same file again to complete it (engrams are written by id)"
        )
        self.written = written
        self.total = total
