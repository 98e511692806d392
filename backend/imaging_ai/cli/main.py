"""The parser, assembled from the command groups, and `main`, which runs the command it names."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from imaging_ai.cli import accounts, api_keys, models, schema, server
from imaging_ai.log_config import configure_logging
from imaging_ai.settings import Settings

DESCRIPTION = "`imaging-ai`: the one entry point for every operational command."
GROUPS = (server, schema, models, accounts, api_keys)
"""Each group adds its commands (in this order in `--help`) with `register(commands)`."""

Command = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imaging-ai", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    handler: Command = args.handler
    return handler(args, settings)
