"""The database's schema (`migrate`, `downgrade`, `makemigration`, `check`) and the API's (`openapi`)."""

from __future__ import annotations

import argparse
import json
import sys

from imaging_ai.cli.database import database
from imaging_ai.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = commands.add_parser("migrate", help="Apply database migrations (default: to head).")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(handler=_migrate)

    downgrade = commands.add_parser("downgrade", help="Revert database migrations to a revision.")
    downgrade.add_argument("revision")
    downgrade.set_defaults(handler=_downgrade)

    makemigration = commands.add_parser(
        "makemigration", help="Generate a migration from the difference between the models and the database."
    )
    makemigration.add_argument("message")
    makemigration.set_defaults(handler=_makemigration)

    check = commands.add_parser("check", help="Show effective settings and whether migrations are at head.")
    check.set_defaults(handler=_check)

    openapi = commands.add_parser("openapi", help="Print (or write) the API's OpenAPI schema as JSON.")
    openapi.add_argument("--out", help="Write to this file instead of standard output.")
    openapi.set_defaults(handler=_openapi)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.persistence import migrations

    migrations.upgrade(settings.resolved_database_url, args.revision)
    print(json.dumps({"migrated_to": args.revision}))
    return 0


def _downgrade(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.persistence import migrations

    migrations.downgrade(settings.resolved_database_url, args.revision)
    print(json.dumps({"downgraded_to": args.revision}))
    return 0


def _makemigration(args: argparse.Namespace, settings: Settings) -> int:
    from alembic import command

    from imaging_ai.persistence import migrations

    command.revision(
        migrations.alembic_config(settings.resolved_database_url), message=args.message, autogenerate=True
    )
    return 0


def _check(_args: argparse.Namespace, settings: Settings) -> int:
    """Prints the effective settings (secrets masked) and whether the database is at head."""
    from imaging_ai.persistence import migrations

    with database(settings) as engine:
        at_head = migrations.is_at_head(engine)
    report = {
        "database": engine.url.render_as_string(hide_password=True),
        "data_dir": str(settings.data_dir),
        "model_store_dir": str(settings.model_store_dir),
        "migrations_at_head": at_head,
    }
    print(json.dumps(report, indent=2))
    return 0 if at_head else 1


def _openapi(args: argparse.Namespace, settings: Settings) -> int:
    """Writes the API's OpenAPI schema (the source the web app's typed client is generated from)."""
    from pathlib import Path

    from imaging_ai.api.app import create_app

    schema = json.dumps(create_app(settings).openapi(), indent=2, sort_keys=True) + "\n"
    if args.out:
        Path(args.out).write_text(schema)
    else:
        sys.stdout.write(schema)
    return 0
