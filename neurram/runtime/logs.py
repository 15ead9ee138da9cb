"""Default logging: key-value events on stderr, pretty on a terminal, JSON otherwise (or as
the ``log_format`` setting says: JSON for production, console for people).

Applied only when the application has not configured structlog itself.
"""

from __future__ import annotations

import logging
import sys

import structlog

from neurram.settings import LogFormat


def configure_logging(level: int = logging.WARNING, log_format: LogFormat = "auto") -> None:
    """Send neurram's events to stderr at ``level`` unless structlog is configured already."""
    if structlog.is_configured():
        return
    terminal = sys.stderr.isatty()
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=terminal)
        if (terminal if log_format == "auto" else log_format == "console")
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
