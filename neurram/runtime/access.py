"""Redis ACL users that confine a client to one brain, and the service user regions run as.

Pure: the arguments of ``ACL SETUSER`` and the URL a user connects with; the command line
(``neurram grant``/``revoke``) sends them. A brain user may touch only the keys under
``neurram:{<brain_id>}:`` and run only the commands a client (``Brain`` with
``run_regions=False``, ``inspect``, ``tap``, ``export``, ``import``) sends; everything else,
pub/sub included, Redis refuses with NOPERM. Besides, it may ring the doorbell (write only:
it cannot read which other brains have work), register its brain (see
:mod:`neurram.bus.doorbell`) and read how busy the runners are (:mod:`neurram.bus.pressure`).
A service user holds every key of neurram and the commands the regions add (consumer groups,
claiming, interrupting blocking reads, reading the doorbell).
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from neurram.bus.doorbell import DOORBELL, REGISTRY
from neurram.bus.keys import Namespace
from neurram.bus.pressure import PRESSURE
from neurram.errors import BrainAccessDeniedError, InvalidInputError

BRAIN_USER = "neurram-brain-"  # + brain id
SERVICE_USER = "neurram-service-"  # + service name
SERVICE_KEYS = ("~neurram:*", "~{neurram}:*")
GLOB_SPECIAL = "*?[]\\"

# What a client sends, by what needs it (the ACL LOG of tests/runtime/test_access.py's
# session against a running `neurram run` is empty with exactly these).
CLIENT_COMMANDS = (
    "ping",  # connection check at open
    "client|setinfo",  # redis-py names its library on connect
    "client|id",  # a blocking read's connection learns its id (bus.blocking)
    "time",  # backpressure measures ages on the server's clock (bus.flow)
    "xadd",  # stimuli and requests; the change log; the doorbell
    "sadd",  # the brain's registration
    "xread",  # the reply stream; tap
    "xdel",  # replies read
    "xrange",  # the change log; the oldest waiting stimulus
    "xrevrange",  # tap, top: the last entries
    "xlen",  # backlog
    "xinfo|groups",  # backlog, lag; top
    "xinfo|stream",  # the change log's head
    "xtrim",  # the change log's cap, staged with each write
    "hget",  # inside the compare-and-set script
    "hmget",
    "hset",
    "hdel",  # inside the compare-and-set script (forget)
    "hscan",  # engrams(), export
    "hlen",  # export's progress
    "hgetall",  # outcome counts, the wait=False tally
    "zrange",  # working memory
    "zrem",  # forget
    "lrem",  # forget
    "set",  # start/stop_sleep_cycle
    "del",  # the client's reply stream and tally at close
    "multi",  # one transaction per write
    "exec",
    "discard",  # redis-py abandons a failed transaction with it
    "evalsha",  # compare-and-set and the reads of working memory (MemoryStore)
    "eval",  # content index clean-up on forget; a batch of messages for one stream (Actor)
    "script|load",  # redis-py loads the compare-and-set script when the cache lacks it
)
# What a client of a Redis Cluster adds (without them redis-py cannot connect; measured):
CLUSTER_COMMANDS = (
    "cluster|slots",  # the slot map: which master holds a brain
    "command",  # which arguments of a command are keys
)
# What regions add: consumer groups and their upkeep, optimistic locks, the sleep lock.
SERVICE_COMMANDS = (
    *CLIENT_COMMANDS,
    "client|unblock",  # interrupt a region's own blocking read at stop (bus.blocking)
    "xgroup|create",
    "xreadgroup",
    "xack",
    "xautoclaim",
    "xpending",
    "watch",  # PrefrontalCortex holds slots with optimistic locking
    "unwatch",  # redis-py resets a watching pipeline with it
    "get",
    "hincrby",
    "zadd",
    "lpush",
    "lrange",
    "ltrim",
    "expire",
    "sscan",  # the registry of brains, swept
    "sismember",  # a ring's brain is registered
)


# What a brain's user may do outside its brain, each an ACL selector of its own, so none of
# the commands it has on its own keys (DEL, XTRIM, XDEL, ...) reaches these keys (their
# names hold no glob character):
RUNTIME_SELECTORS = (
    f"(%W~{DOORBELL} +xadd)",  # ring, without reading who else has work
    f"(~{REGISTRY} +sadd)",  # register its brain
    f"(%R~{PRESSURE} +xrevrange)",  # how busy the runners are, for its backpressure
)


def brain_user(brain_id: str) -> str:
    """The ACL user of ``brain_id``."""
    return BRAIN_USER + _namespace(brain_id).name


def service_user(name: str) -> str:
    """The ACL user of a service (a set of runners) called ``name``."""
    if not name or any(c.isspace() for c in name):
        raise InvalidInputError(f"service name {name!r} must be non-empty, without whitespace")
    return SERVICE_USER + name


def brain_of_user(user: str | None) -> str | None:
    """The brain a user made by :func:`brain_user` is for; None for any other user."""
    if user and user.startswith(BRAIN_USER) and len(user) > len(BRAIN_USER):
        return user[len(BRAIN_USER) :]
    return None


def escape_glob(text: str) -> str:
    """``text`` as a literal in a Redis glob pattern (braces are literal there already)."""
    return "".join("\\" + c if c in GLOB_SPECIAL else c for c in text)


def key_pattern(brain_id: str) -> str:
    """The glob matching every key of ``brain_id``, and no key of another brain."""
    return escape_glob(_namespace(brain_id).prefix) + "*"


def _namespace(brain_id: str) -> Namespace:
    try:
        return Namespace(brain_id)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


def password_hash(password: str) -> str:
    """SHA-256 hex of ``password``: the ACL stores it, and only it crosses the wire."""
    return hashlib.sha256(password.encode()).hexdigest()


def brain_rules(brain_id: str, password: str, db: int = 0, *, cluster: bool = False) -> list[str]:
    """``ACL SETUSER`` rules confining a user to ``brain_id``, with ``password`` only (any
    earlier password and permission is reset: granting again rotates); ``cluster``: for
    a client of a Redis Cluster."""
    return [
        *_rules(password, (f"~{key_pattern(brain_id)}",), CLIENT_COMMANDS, db, cluster),
        *RUNTIME_SELECTORS,
    ]


def service_rules(password: str, db: int = 0, *, cluster: bool = False) -> list[str]:
    """``ACL SETUSER`` rules of a user that runs the regions of every brain."""
    return _rules(password, SERVICE_KEYS, SERVICE_COMMANDS, db, cluster)


def _rules(
    password: str, keys: tuple[str, ...], commands: tuple[str, ...], db: int, cluster: bool
) -> list[str]:
    # SELECT cannot be confined to one database: granted only when the URL needs it
    selected = ("select",) if db else ()
    commands = (*commands, *(CLUSTER_COMMANDS if cluster else ()))
    return [
        "reset",  # no keys, no channels, no commands, no passwords, off
        "on",
        f"#{password_hash(password)}",
        *keys,
        "resetchannels",
        "-@all",
        *(f"+{command}" for command in (*commands, *selected)),
    ]


def database(url: str) -> int:
    """The database number a redis:// or unix:// URL selects (0 when none)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(p.partition("=")[::2] for p in parts.query.split("&") if p)
        return int(query.get("db") or 0)
    path = parts.path.strip("/")
    return int(path) if path else 0


def user_of(url: str) -> str | None:
    """The user name a URL authenticates as, if any."""
    name = urlsplit(url).username
    return unquote(name) if name else None


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` (the admin's) authenticating as ``user``: ``redis://user:password@host:port/db``,
    or ``unix://user:password@/path?db=n`` for a socket. Earlier credentials are dropped."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    login = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    query = parts.query
    if parts.scheme == "unix" and "db=" not in query:
        query = "&".join(filter(None, [query, "db=0"]))
    path = parts.path or ("" if parts.scheme == "unix" else "/0")
    return urlunsplit((parts.scheme, login + host, path, query, parts.fragment))


def denial(user: str | None, brain_id: str) -> str:
    """Why Redis refused ``user`` a key of ``brain_id``, and what to do."""
    granted = brain_of_user(user)
    if granted is not None and granted != brain_id:
        return (
            f"Redis refused brain {brain_id!r} to user {user!r}: these credentials are for "
            f"brain {granted!r} only. Connect to brain {brain_id!r} with the URL that "
            f"`neurram grant --brain {brain_id}` printed"
        )
    if granted == brain_id:
        return (
            f"Redis refused user {user!r} a command on its own brain (NOPERM): its ACL "
            "predates this version of neurram; grant it again with this version "
            f"(`neurram grant --brain {brain_id}` rotates the password)"
        )
    return (
        f"Redis refused user {user or 'default'!r} access to brain {brain_id!r} (NOPERM): "
        f"connect with the URL that `neurram grant --brain {brain_id}` printed"
    )


def check_may_run_regions(url: str | None) -> None:
    """Refuse at once to run regions as a brain's user (the one ``url`` authenticates as),
    whose ACL denies what they need."""
    user = None if url is None else user_of(url)
    brain = brain_of_user(user)
    if brain is not None:
        raise BrainAccessDeniedError(
            f"user {user!r} is a client of brain {brain!r} only and may not run regions: "
            "pass run_regions=False and run them with `neurram run` as a service user "
            "(`neurram grant --service NAME`)"
        )


def refused(user: str | None, url: str) -> str:
    """Why Redis refused to authenticate ``user``, and what to do."""
    return (
        f"Redis at {redact(url)} refused the credentials of user {user or 'default'!r}: "
        "wrong password, revoked (`neurram revoke`) or rotated (`neurram grant` again prints "
        "the new URL)"
    )


def default_user_open(flags: list[str]) -> bool:
    """Whether the default user (its ``ACL GETUSER`` flags) lets anyone in without a password:
    then the limits of these users protect nothing."""
    return "on" in flags and "nopass" in flags


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))
