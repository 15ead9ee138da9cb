"""One encoding at a time per host, with the texts of every request waiting meanwhile merged.

A runner encodes for many brains at once: each Amygdala encodes its batch of stimuli, each
Hippocampus its queries. Run side by side in worker threads, those encodings each spread
over every core (torch's threads), so they oversubscribe the machine, starve the event loop
(a stimulus then waits to be read past its TTL: measured with py-spy, six encodings at once
and the loop stalled for 1.5 s) and encode no faster than one after another.

:class:`EncodingQueue` is the one way the actors of a host encode. Requests join a queue;
one task serves it, one call at a time in a thread of its own, each call taking the texts of
every request waiting then (up to ``max_texts``), so batches grow with the load, and the
model encodes larger batches faster per text; one thread also keeps the model's working
memory in one malloc arena, not one per worker thread that happened to encode. The task
ends when the queue is empty and starts again with the next request, so a caller that
gives up (cancelled) never leaves the others without a server. A request of a few texts
while nothing is being encoded is encoded on the event loop at once: no thread hop
(measured: one text takes 7.5 ms there, 12 ms in a worker thread). It holds the loop
anyway, so unless its caller runs work of its own beside it, it takes every core
(``AloneEncoder``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from neurram.encoder import AloneEncoder, Encoder, Matrix

MAX_TEXTS = 256  # texts encoded in one call at most
INLINE_TEXTS = 2  # a request of at most this many texts, with nothing else encoding, is
# encoded on the event loop

Request = tuple[Sequence[str], "asyncio.Future[Matrix]"]


class EncodingQueue:
    """Encodes with ``encoder``, one call at a time, merging the requests that wait."""

    def __init__(
        self, encoder: Encoder, max_texts: int = MAX_TEXTS, inline_texts: int = INLINE_TEXTS
    ) -> None:
        self.encoder = encoder
        self._max_texts = max_texts
        self._inline_texts = inline_texts
        self._waiting: deque[Request] = deque()
        self._server: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="neurram-encoding")
        self._loaded = False

    async def load(self) -> None:
        """Load the model (seconds, the first time in a process) off the event loop, for
        inline encodes too."""
        if not self._loaded:
            warm_up = [self.encode(["warm up"] * (self._inline_texts + 1))]  # never on the loop
            if isinstance(self.encoder, AloneEncoder):
                warm_up.append(asyncio.to_thread(self.encoder.encode_alone, ["warm up"]))
            await asyncio.gather(*warm_up)
            self._loaded = True

    def close(self) -> None:
        """Let the encoding thread go once its call (if any) returns."""
        self._thread.shutdown(wait=False)

    def inline(self, texts: Sequence[str]) -> bool:
        """Whether :meth:`encode` encodes ``texts`` on the event loop, holding every other
        task until they are: a few texts while nothing else is being encoded."""
        return len(texts) <= self._inline_texts and self._server is None and self._loaded

    async def encode(self, texts: Sequence[str], beside: bool = False) -> Matrix:
        """Embeddings of ``texts``, encoded with those of the other requests waiting now.
        ``beside``: the caller runs work on another thread meanwhile, so an inline encode
        leaves it the core that the encoder's batches leave the event loop."""
        if self.inline(texts):
            if isinstance(self.encoder, AloneEncoder) and not beside:
                return self.encoder.encode_alone(texts)
            return self.encoder.encode(texts)
        done: asyncio.Future[Matrix] = asyncio.get_running_loop().create_future()
        self._waiting.append((texts, done))
        if self._server is None:
            self._server = asyncio.create_task(self._serve(), name="neurram:encoding")
        return await done

    async def _serve(self) -> None:
        try:
            while self._waiting:
                await self._encode(self._take())
        finally:
            self._server = None

    def _take(self) -> list[Request]:
        """The longest-waiting requests, up to ``max_texts`` texts (at least one request);
        requests whose caller gave up are dropped."""
        batch: list[Request] = []
        count = 0
        while self._waiting and (not batch or count + len(self._waiting[0][0]) <= self._max_texts):
            texts, done = self._waiting.popleft()
            if not done.done():
                batch.append((texts, done))
                count += len(texts)
        return batch

    async def _encode(self, batch: list[Request]) -> None:
        if not batch:
            return
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(
                self._thread, self.encoder.encode, [text for texts, _ in batch for text in texts]
            )
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        except BaseException:  # the server itself was cancelled (the loop is closing)
            for _, done in batch:
                done.cancel()
            raise
        ends = np.cumsum([len(texts) for texts, _ in batch])
        for (_, done), part in zip(batch, np.split(vectors, ends[:-1]), strict=True):
            if not done.done():
                done.set_result(part)
