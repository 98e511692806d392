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
    result = {"task": task.name, "version": version, "manifest": args.manifest, "split": args.split}
    result.update(evaluate_items(load_model(stored), items))
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


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
    evaluate.add_argument("--store", action="append", default=[], help="Another model store root to look in.")
    evaluate.add_argument("--json", action="store_true", help="One line of JSON.")
    evaluate.set_defaults(handler=_evaluate)

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
