"""`imaging-ai`: the one entry point for every operational command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from imaging_ai.log_config import configure_logging
from imaging_ai.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from imaging_ai.persistence import migrations

    if args.migrate:
        migrations.upgrade(settings.resolved_database_url)
    uvicorn.run(
        "imaging_ai.api.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        access_log=False,
        # Keep-alive sockets from the SPA are cheap; a short timeout frees them on a 2-core box.
        timeout_keep_alive=5,
    )
    return 0


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
    from imaging_ai.persistence.database import create_db_engine

    engine = create_db_engine(settings.resolved_database_url)
    try:
        at_head = migrations.is_at_head(engine)
    finally:
        engine.dispose()
    report = {
        "database": engine.url.render_as_string(hide_password=True),
        "data_dir": str(settings.data_dir),
        "model_store_dir": str(settings.model_store_dir),
        "migrations_at_head": at_head,
    }
    print(json.dumps(report, indent=2))
    return 0 if at_head else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imaging-ai", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="Run the API (and the SPA) with uvicorn.")
    serve.add_argument("--host", help="Bind address (default: IMAGING_AI_HOST).")
    serve.add_argument("--port", type=int, help="Port (default: IMAGING_AI_PORT).")
    serve.add_argument("--migrate", action="store_true", help="Apply migrations before serving.")
    serve.set_defaults(handler=_serve)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    handler: Command = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
