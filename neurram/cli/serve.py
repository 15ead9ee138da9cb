"""``neurram mcp``: one brain served to agents over the Model Context Protocol."""

from __future__ import annotations

import argparse

from neurram.cli.options import add_settings, settings_of


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mcp = commands.add_parser("mcp", help="serve a brain to agents over the Model Context Protocol")
    mcp.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="address to listen on (http)")
    mcp.add_argument("--port", type=int, default=8000, help="port to listen on (http)")
    mcp.add_argument(
        "--no-regions",
        dest="run_regions",
        action="store_false",
        help="do not run regions here: they run in a `neurram run` beside it",
    )
    add_settings(mcp)
    mcp.set_defaults(handler=_mcp)


async def _mcp(args: argparse.Namespace) -> None:
    from neurram.mcp import serve

    await serve(
        settings_of(args),
        transport=args.transport,
        host=args.host,
        port=args.port,
        run_regions=args.run_regions,
    )
