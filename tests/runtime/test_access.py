"""The ACL rules and URLs of brain and service users (pure; the server tests are in
tests/e2e/test_access.py)."""

from __future__ import annotations

import pytest
from redis.connection import parse_url

from neurram.errors import BrainAccessDeniedError, InvalidInputError
from neurram.runtime import access


def test_key_pattern_escapes_glob_characters_and_keeps_braces_literal() -> None:
    assert access.key_pattern("agent-7") == "neurram:{agent-7}:*"
    assert access.key_pattern("a*b?[c]\\d") == "neurram:{a\\*b\\?\\[c\\]\\\\d}:*"


def test_a_brain_id_that_is_no_namespace_is_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="braces"):
        access.brain_user("a}b")
    with pytest.raises(InvalidInputError):
        access.service_user("two words")


def test_brain_rules_reset_then_allow_one_pattern_and_the_client_commands() -> None:
    rules = access.brain_rules("agent-7", "s3cret")
    assert rules[:2] == ["reset", "on"]
    assert f"#{access.password_hash('s3cret')}" in rules
    assert not any("s3cret" in rule for rule in rules)  # only its hash crosses the wire
    assert [r for r in rules if r.startswith("~")] == ["~neurram:{agent-7}:*"]
    # outside its brain, only: ring (write only), register its brain, read runner pressure
    assert [r for r in rules if r.startswith("(")] == [
        "(%W~{neurram}:doorbell +xadd)",
        "(~{neurram}:brains +sadd)",
        "(%R~{neurram}:pressure +xrevrange)",
    ]
    assert "resetchannels" in rules
    assert rules.index("-@all") < rules.index("+xadd")
    granted = {r[1:] for r in rules if r.startswith("+")}
    assert granted == set(access.CLIENT_COMMANDS)
    assert not granted & {"keys", "flushall", "flushdb", "config", "client|unblock", "select"}


def test_select_is_granted_only_for_a_database_other_than_0() -> None:
    assert "+select" not in access.brain_rules("b", "p", db=0)
    assert "+select" in access.brain_rules("b", "p", db=3)


def test_service_rules_cover_every_neurram_key_and_the_region_commands() -> None:
    rules = access.service_rules("p")
    assert [r for r in rules if r.startswith("~")] == ["~neurram:*", "~{neurram}:*"]
    granted = {r[1:] for r in rules if r.startswith("+")}
    assert granted > set(access.CLIENT_COMMANDS)
    assert {"xreadgroup", "xack", "xautoclaim", "xgroup|create", "client|unblock"} <= granted


def test_users_name_their_brain() -> None:
    assert access.brain_of_user(access.brain_user("a*b")) == "a*b"
    assert access.brain_of_user(access.service_user("runners")) is None
    assert access.brain_of_user("default") is None
    assert access.brain_of_user(None) is None


@pytest.mark.parametrize(
    ("admin", "expected", "path", "host", "port", "db"),
    [
        (
            "redis://localhost:6379",
            "redis://u%2A1:p%40w@localhost:6379/0",
            None,
            "localhost",
            6379,
            0,
        ),
        (
            "redis://admin:x@10.0.0.1:7000/2",
            "redis://u%2A1:p%40w@10.0.0.1:7000/2",
            None,
            "10.0.0.1",
            7000,
            2,
        ),
        ("unix:///tmp/v.sock", "unix://u%2A1:p%40w@/tmp/v.sock?db=0", "/tmp/v.sock", None, None, 0),
        (
            "unix:///tmp/v.sock?db=4",
            "unix://u%2A1:p%40w@/tmp/v.sock?db=4",
            "/tmp/v.sock",
            None,
            None,
            4,
        ),
    ],
)
def test_with_credentials_gives_a_url_redis_py_reads_back(
    admin: str, expected: str, path: str | None, host: str | None, port: int | None, db: int
) -> None:
    url = access.with_credentials(admin, "u*1", "p@w")
    assert url == expected
    parsed = parse_url(url)
    assert (parsed["username"], parsed["password"]) == ("u*1", "p@w")
    assert (parsed.get("path"), parsed.get("host"), parsed.get("port")) == (path, host, port)
    assert parsed.get("db", 0) == db == access.database(url)
    assert access.user_of(url) == "u*1"


def test_redact_hides_only_the_password() -> None:
    assert access.redact("redis://u%2A1:secret@h:1/0") == "redis://u%2A1:***@h:1/0"
    assert access.redact("unix://u:secret@/tmp/v.sock?db=0") == "unix://u:***@/tmp/v.sock?db=0"
    assert access.redact("redis://h:1/0") == "redis://h:1/0"


def test_a_denial_names_the_brain_the_credentials_are_for() -> None:
    message = access.denial(access.brain_user("alice"), "bob")
    assert "for brain 'alice' only" in message and "neurram grant --brain bob" in message
    assert "grant it again" in access.denial(access.brain_user("bob"), "bob")
    assert "'default'" in access.denial(None, "bob")


def test_a_brain_user_may_not_run_regions() -> None:
    url = access.with_credentials("redis://h:1", access.brain_user("alice"), "p")
    with pytest.raises(BrainAccessDeniedError, match="run_regions=False"):
        access.check_may_run_regions(url)
    access.check_may_run_regions(access.with_credentials(url, access.service_user("s"), "p"))
    access.check_may_run_regions(None)
    access.check_may_run_regions("redis://h:1")


def test_a_refusal_hides_the_password() -> None:
    assert "secret" not in access.refused("u", "redis://u:secret@h:1/0")


def test_an_open_default_user_is_noticed() -> None:
    assert access.default_user_open(["on", "nopass", "sanitize-payload"])
    assert not access.default_user_open(["off", "nopass"])
    assert not access.default_user_open(["on"])


def test_users_of_a_cluster_may_read_the_slot_map_and_nothing_more() -> None:
    for rules in (
        access.brain_rules("agent-7", "s3cret", cluster=True),
        access.service_rules("s3cret", cluster=True),
    ):
        assert {"+cluster|slots", "+command"} <= set(rules)
        assert "+cluster|slots" not in access.brain_rules("agent-7", "s3cret")  # single server
        assert not {"+cluster", "+@admin", "+cluster|setslot"} & set(rules)
