"""Default logging: key-value events on stderr, pretty on a terminal, JSON otherwise.

Applied only when the application has not configured structlog itself.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: int = logging.WARNING) -> None:
    """Send neurram's events to stderr at ``level`` unless structlog is configured already."""
    if structlog.is_configured():
        return
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer()
        if sys.stderr.isatty()
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
