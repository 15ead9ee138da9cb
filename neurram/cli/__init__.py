"""The ``neurram`` command: run regions, watch them, move brains in and out, serve agents,
grant access.

Entry-point layer (ARCHITECTURE.md): it may use the Brain facade and the runtime; nothing
below imports it. Each module registers its subcommands.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from neurram.cli import access, demo, observe, regions, serve, transfer
from neurram.cli.options import settings_of
from neurram.errors import NeurramError
from neurram.runtime.logs import configure_logging

READY_LINE = regions.READY_LINE


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        level = logging.INFO if args.command == "run" else logging.WARNING
        configure_logging(level, settings_of(args).log_format)
        asyncio.run(args.handler(args))
    except KeyboardInterrupt:
        pass
    except NeurramError as exc:
        sys.exit(f"neurram: {exc}")


def parser() -> argparse.ArgumentParser:
    """Every subcommand, each from the module that holds it."""
    root = argparse.ArgumentParser(prog="neurram", description="Memory for AI agents.")
    commands = root.add_subparsers(dest="command", required=True)
    for module in (regions, observe, transfer, demo, serve, access):
        module.register(commands)
    return root
