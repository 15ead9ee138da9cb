"""The log format setting: JSON for production, console for people, auto by terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from neurram.runtime.logs import configure_logging
from neurram.settings import Settings


@pytest.fixture
def fresh_structlog() -> Iterator[None]:
    """structlog as if nothing had configured it, restored afterwards."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)


def test_json_renders_one_object_a_line(
    fresh_structlog: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(log_format="json")
    structlog.get_logger("neurram").warning("region.slow", region="amygdala", ms=12)
    event = json.loads(capsys.readouterr().err)
    assert event["event"] == "region.slow" and event["region"] == "amygdala"
    assert event["level"] == "warning" and "timestamp" in event


def test_console_renders_for_people(
    fresh_structlog: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(log_format="console")
    structlog.get_logger("neurram").warning("region.slow", region="amygdala")
    line = capsys.readouterr().err
    assert "region.slow" in line and "region=amygdala" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURRAM_LOG_FORMAT", "json")
    monkeypatch.setenv("NEURRAM_METRICS_PORT", "9464")
    settings = Settings.load()
    assert settings.log_format == "json" and settings.metrics_port == 9464
    assert Settings.load().replace(log_format="console").log_format == "console"
