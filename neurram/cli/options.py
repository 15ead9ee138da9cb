"""The flags every command shares: one ``--name`` per setting, read back into Settings."""

from __future__ import annotations

import argparse
from typing import Any

from neurram.settings import Settings, parse_setting


def add_settings(parser: argparse.ArgumentParser, *, brain_alias: bool = True) -> None:
    """One ``--name`` flag per setting; ``--brain`` is short for ``--brain-id`` unless
    ``brain_alias`` is False (the command gives ``--brain`` a meaning of its own)."""
    group = parser.add_argument_group("settings (override NEURRAM_* environment variables)")
    for name in Settings.__struct_fields__:
        alias = brain_alias and name == "brain_id"
        flags = [f"--{name.replace('_', '-')}"] + (["--brain"] if alias else [])
        group.add_argument(*flags, dest=f"setting_{name}", metavar=name.upper())


def settings_of(args: argparse.Namespace, **defaults: Any) -> Settings:
    """The settings a command was given: ``defaults`` < environment < its flags."""
    given = {
        name: parse_setting(name, value)
        for name in Settings.__struct_fields__
        if (value := getattr(args, f"setting_{name}")) is not None
    }
    return Settings.load(**{**defaults, **given})
