"""`imaging-ai`: the one entry point for every operational command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from imaging_ai.log_config import configure_logging
from imaging_ai.services.identity import SystemActor
from imaging_ai.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]
_CLI = SystemActor("cli")


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
        **uvicorn_options(settings),
    )
    return 0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How `serve` configures uvicorn, apart from where it listens (shared with the tests)."""
    proxies = settings.forwarded_allow_ips
    return {
        "log_config": None,
        "access_log": False,
        # Keep-alive sockets from the SPA are cheap; a short timeout frees them on a 2-core box.
        "timeout_keep_alive": 5,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: anything on the host (or a port
        # forward) could then choose the address the audit log records and the sign-in throttle counts.
        # Only configured proxies are trusted; with none, the headers are not read at all.
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(proxies) if proxies else None,
    }


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


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.persistence.database import create_db_engine, create_session_factory
    from imaging_ai.services.worker import Worker

    engine = create_db_engine(settings.resolved_database_url)
    worker = Worker(create_session_factory(engine), settings)
    try:
        if args.once:
            worker.run_once()
        else:
            worker.run_forever(max_jobs=args.max_jobs)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()
    return 0


def _sync_models(_args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from imaging_ai.persistence.database import create_db_engine, create_session_factory
    from imaging_ai.persistence.unit_of_work import transaction
    from imaging_ai.services.model_catalog import sync_store_to_database

    engine = create_db_engine(settings.resolved_database_url)
    try:
        with transaction(create_session_factory(engine)) as session:
            report = sync_store_to_database(session, settings.model_store_roots)
    finally:
        engine.dispose()
    print(json.dumps(asdict(report), indent=2))
    return 1 if report.rejected else 0


def _train_base(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from imaging_ai.ml.augment import AugmentationSpec
    from imaging_ai.ml.base_training import train_base_version
    from imaging_ai.ml.tasks import TASKS
    from imaging_ai.ml.training import TrainingParams

    task = TASKS[args.task]
    external = dict(item.split("=", 1) for item in args.external)
    params = TrainingParams(
        architecture=args.architecture,
        input_size=args.input_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
        augmentation=AugmentationSpec(horizontal_flip=args.horizontal_flip),
    )
    stored = train_base_version(
        task,
        Path(args.manifest),
        store_root=Path(args.out) if args.out else settings.model_store_dir,
        version=args.version,
        params=params,
        external_sets={name: Path(path) for name, path in external.items()},
        notes=args.note,
    )
    print(
        json.dumps({"version": stored.version, "path": str(stored.path), "metrics": stored.card["metrics"]})
    )
    return 0


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from imaging_ai.ml.evaluation import evaluate_items
    from imaging_ai.ml.loading import load_model
    from imaging_ai.ml.manifest import read_manifest
    from imaging_ai.ml.tasks import TASKS
    from imaging_ai.services.model_catalog import find_stored_version

    task = TASKS[args.task]
    version = args.version or _active_version(settings, task.name)
    roots = [Path(root) for root in args.store] + settings.model_store_roots
    stored = find_stored_version(roots, version)
    if stored is None or stored.task != task.name:
        print(json.dumps({"error": f"no version {version} of task {task.name} in the model stores"}))
        return 2
    items = read_manifest(Path(args.manifest), labels=task.labels)
    if args.split:
        items = [item for item in items if item.split == args.split]
    if args.half:
        from imaging_ai.ml.adaptation_data import source_test_halves

        gate, report = source_test_halves(items)
        items = gate if args.half == "gate" else report
    result = {
        "task": task.name,
        "version": version,
        "manifest": args.manifest,
        "split": args.split,
        "half": args.half,
    }
    result.update(evaluate_items(load_model(stored), items))
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def _fit_feature_density(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from imaging_ai.ml.density_fit import DensityFitError, fit_version_density

    datasets = Path(args.datasets_dir) if args.datasets_dir else settings.datasets_dir
    try:
        stored, density = fit_version_density(Path(args.version_dir), datasets, quantile=args.quantile)
    except DensityFitError as error:
        print(json.dumps({"error": str(error)}), file=sys.stderr)
        return 2
    print(json.dumps({"version": stored.version, "files": stored.card["files"], **density.summary()}))
    return 0


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


def _read_password(args: argparse.Namespace) -> str:
    """From one line of standard input (`--password-stdin`), else asked twice at the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    if not sys.stdin.isatty():
        raise SystemExit("no terminal to ask for the password: pass --password-stdin")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise SystemExit("the passwords differ")
    return first


def _accounts(settings: Settings, work: Callable[[Any], dict[str, Any]]) -> int:
    """Runs account work in one transaction as the `cli` actor; prints its result as JSON."""
    from imaging_ai.errors import DomainError
    from imaging_ai.persistence.database import create_db_engine, create_session_factory
    from imaging_ai.persistence.unit_of_work import transaction
    from imaging_ai.services.accounts import AccountService

    engine = create_db_engine(settings.resolved_database_url)
    try:
        with transaction(create_session_factory(engine)) as session:
            result = work(AccountService(session))
    except DomainError as error:
        print(json.dumps({"error": {"code": error.code, "message": error.message}}), file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(json.dumps(result, indent=2, default=str))
    return 0


def _user_summary(user: Any) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "kind": user.kind,
        "roles": user.role_names,
        "is_active": user.is_active,
    }


def _create_admin(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(args)
    return _accounts(
        settings,
        lambda accounts: _user_summary(
            accounts.create_user(
                _CLI,
                username=args.username,
                display_name=args.display_name,
                roles=["admin"],
                password=password,
            )
        ),
    )


def _users_create(args: argparse.Namespace, settings: Settings) -> int:
    password = None if args.service else _read_password(args)
    return _accounts(
        settings,
        lambda accounts: _user_summary(
            accounts.create_user(
                _CLI,
                username=args.username,
                display_name=args.display_name,
                kind="service" if args.service else "person",
                roles=args.role or [],
                password=password,
            )
        ),
    )


def _users_list(_args: argparse.Namespace, settings: Settings) -> int:
    return _accounts(
        settings, lambda accounts: {"users": [_user_summary(user) for user in accounts.page(limit=500)]}
    )


def _users_update(args: argparse.Namespace, settings: Settings) -> int:
    def work(accounts: Any) -> dict[str, Any]:
        user = accounts.get_user_by_name(args.username)
        active = None if args.active is None else args.active == "yes"
        return _user_summary(accounts.update_user(_CLI, user.id, roles=args.role, is_active=active))

    return _accounts(settings, work)


def _users_password(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(args)

    def work(accounts: Any) -> dict[str, Any]:
        user = accounts.get_user_by_name(args.username)
        return _user_summary(accounts.set_password(_CLI, user.id, password))

    return _accounts(settings, work)


def _users_unlock(args: argparse.Namespace, settings: Settings) -> int:
    def work(accounts: Any) -> dict[str, Any]:
        user = accounts.get_user_by_name(args.username)
        return _user_summary(accounts.unlock(_CLI, user.id))

    return _accounts(settings, work)


def _keys_create(args: argparse.Namespace, settings: Settings) -> int:
    def work(accounts: Any) -> dict[str, Any]:
        user = accounts.get_user_by_name(args.user)
        created = accounts.create_api_key(
            _CLI, user.id, name=args.name, scopes=args.scope, expires_in_days=args.expires_days or None
        )
        return {
            "id": str(created.record.id),
            "prefix": created.record.prefix,
            "scopes": created.record.scopes,
            "expires_at": created.record.expires_at,
            "key": created.key,
            "note": "the key is shown only now; store it in the hospital system's secret store",
        }

    return _accounts(settings, work)


def _keys_list(args: argparse.Namespace, settings: Settings) -> int:
    def work(accounts: Any) -> dict[str, Any]:
        user_id = accounts.get_user_by_name(args.user).id if args.user else None
        keys = accounts.api_keys(user_id=user_id, limit=500)
        return {
            "api_keys": [
                {
                    "id": str(key.id),
                    "name": key.name,
                    "prefix": key.prefix,
                    "scopes": key.scopes,
                    "expires_at": key.expires_at,
                    "revoked_at": key.revoked_at,
                    "last_used_at": key.last_used_at,
                }
                for key in keys
            ]
        }

    return _accounts(settings, work)


def _keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    import uuid

    def work(accounts: Any) -> dict[str, Any]:
        key = accounts.revoke_api_key(_CLI, uuid.UUID(args.key_id))
        return {"id": str(key.id), "prefix": key.prefix, "revoked_at": key.revoked_at}

    return _accounts(settings, work)


def _active_version(settings: Settings, task: str) -> str:
    from imaging_ai.persistence.database import create_db_engine, create_session_factory
    from imaging_ai.persistence.model_versions import ModelVersionRepository

    engine = create_db_engine(settings.resolved_database_url)
    try:
        with create_session_factory(engine)() as session:
            active = ModelVersionRepository(session).active(task)
    finally:
        engine.dispose()
    if active is None:
        raise SystemExit(f"task {task} has no active version; pass --version")
    return active.id


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

    worker = commands.add_parser(
        "worker", help="Run queued training jobs (several workers may share a database)."
    )
    worker.add_argument("--once", action="store_true", help="Run at most one job, then exit.")
    worker.add_argument("--max-jobs", type=int, help="Exit after this many jobs.")
    worker.set_defaults(handler=_worker)

    sync = commands.add_parser("sync-models", help="Register the model stores' versions in the database.")
    sync.set_defaults(handler=_sync_models)

    train = commands.add_parser("train-base", help="Train a base model version from a labelled manifest.")
    train.add_argument("--task", required=True, choices=_task_names())
    train.add_argument("--manifest", required=True, help="manifest.csv (path,label,site,split,...).")
    train.add_argument(
        "--version", required=True, help="Name of the new version, e.g. chest-xray-pneumonia.v1."
    )
    train.add_argument("--out", help="Model store root (default: IMAGING_AI_MODEL_STORE_DIR).")
    train.add_argument(
        "--external", action="append", default=[], metavar="NAME=MANIFEST", help="Extra evaluation set."
    )
    train.add_argument(
        "--architecture", default="mobilenet_v3_small", choices=["mobilenet_v3_small", "resnet18"]
    )
    train.add_argument("--input-size", type=int, default=160)
    train.add_argument("--epochs", type=int, default=14)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--learning-rate", type=float, default=2e-3)
    train.add_argument("--patience", type=int, default=4)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--horizontal-flip", action="store_true", help="Augment with left-right flips.")
    train.add_argument("--note", action="append", default=[], help="A note for the model card.")
    train.set_defaults(handler=_train_base)

    evaluate = commands.add_parser("evaluate", help="Evaluate a model version on a manifest.")
    evaluate.add_argument("--task", required=True, choices=_task_names())
    evaluate.add_argument("--manifest", required=True)
    evaluate.add_argument("--version", help="Default: the task's active version in the database.")
    evaluate.add_argument("--split", help="Only rows of this split (e.g. test).")
    evaluate.add_argument(
        "--half",
        choices=["gate", "report"],
        help="Only this half of the rows, by patient: the promotion gate's, or the one only ever reported.",
    )
    evaluate.add_argument("--store", action="append", default=[], help="Another model store root to look in.")
    evaluate.add_argument("--json", action="store_true", help="One line of JSON.")
    evaluate.set_defaults(handler=_evaluate)

    density = commands.add_parser(
        "fit-feature-density",
        help="Fit a base version's feature density (out-of-distribution guard, drift scores) from the "
        "training data its card names, and add it to the version folder.",
    )
    density.add_argument("--version-dir", required=True, help="The version's folder in a model store.")
    density.add_argument("--datasets-dir", help="Folder of the datasets (default: IMAGING_AI_DATASETS_DIR).")
    density.add_argument(
        "--quantile", type=float, default=0.99, help="Held-out quantile of the distance threshold."
    )
    density.set_defaults(handler=_fit_feature_density)

    openapi = commands.add_parser("openapi", help="Print (or write) the API's OpenAPI schema as JSON.")
    openapi.add_argument("--out", help="Write to this file instead of standard output.")
    openapi.set_defaults(handler=_openapi)

    admin = commands.add_parser(
        "create-admin", help="Create an administrator (the first one, or another); asks for the password."
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--display-name")
    admin.add_argument("--password-stdin", action="store_true", help="Read the password from stdin.")
    admin.set_defaults(handler=_create_admin)

    users = commands.add_parser("users", help="Manage people and service accounts.")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    users_create = user_commands.add_parser(
        "create", help="Create a person (with roles) or a service account."
    )
    users_create.add_argument("--username", required=True)
    users_create.add_argument("--display-name")
    users_create.add_argument("--role", action="append", choices=["clinician", "admin"], help="Repeatable.")
    users_create.add_argument("--service", action="store_true", help="A service account (API keys only).")
    users_create.add_argument("--password-stdin", action="store_true")
    users_create.set_defaults(handler=_users_create)
    user_commands.add_parser("list", help="List users.").set_defaults(handler=_users_list)
    users_update = user_commands.add_parser("update", help="Set a user's roles or (de)activate them.")
    users_update.add_argument("--username", required=True)
    users_update.add_argument("--role", action="append", choices=["clinician", "admin"], help="The new set.")
    users_update.add_argument("--active", choices=["yes", "no"])
    users_update.set_defaults(handler=_users_update)
    users_password = user_commands.add_parser("set-password", help="Set a person's password.")
    users_password.add_argument("--username", required=True)
    users_password.add_argument("--password-stdin", action="store_true")
    users_password.set_defaults(handler=_users_password)
    users_unlock = user_commands.add_parser(
        "unlock", help="End a lock-out after failed sign-ins (forgets the account's failures)."
    )
    users_unlock.add_argument("--username", required=True)
    users_unlock.set_defaults(handler=_users_unlock)

    keys = commands.add_parser("api-keys", help="Manage service accounts' API keys.")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys_create = key_commands.add_parser("create", help="Create a key (printed once).")
    keys_create.add_argument("--user", required=True, help="The service account's user name.")
    keys_create.add_argument("--name", required=True, help="What the key is for.")
    keys_create.add_argument("--scope", action="append", required=True, choices=["predict", "read"])
    keys_create.add_argument("--expires-days", type=int, default=365, help="0: never expires.")
    keys_create.set_defaults(handler=_keys_create)
    keys_list = key_commands.add_parser("list", help="List keys (prefixes only).")
    keys_list.add_argument("--user", help="Only this service account's keys.")
    keys_list.set_defaults(handler=_keys_list)
    keys_revoke = key_commands.add_parser("revoke", help="Revoke a key at once.")
    keys_revoke.add_argument("key_id")
    keys_revoke.set_defaults(handler=_keys_revoke)

    check = commands.add_parser("check", help="Show effective settings and whether migrations are at head.")
    check.set_defaults(handler=_check)
    return parser


def _task_names() -> list[str]:
    from imaging_ai.ml.tasks import TASKS

    return sorted(TASKS)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    handler: Command = args.handler
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
