"""Model versions: register the stores' (`sync-models`), train a base one (`train-base`), measure one
(`evaluate`), fit its feature density (`fit-feature-density`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from imaging_ai.cli.database import database, transaction
from imaging_ai.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    train.add_argument(
        "--augmentation",
        default="standard",
        choices=["standard", "strong"],
        help="Augmentation preset (ml/augment.py); strong widens the intensity ranges and adds noise.",
    )
    train.add_argument(
        "--served-sensitivity",
        type=float,
        help="Two-label tasks: give the version an operating point with this sensitivity (95%% lower "
        "bound), chosen on the gate half of the source test split.",
    )
    train.add_argument("--note", action="append", default=[], help="A note for the model card.")
    train.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        help="Where to train (default: IMAGING_AI_DEVICE); `cuda` fails clearly without a GPU. Mixed "
        "precision on CUDA follows IMAGING_AI_MIXED_PRECISION.",
    )
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


def _task_names() -> list[str]:
    from imaging_ai.ml.tasks import TASKS

    return sorted(TASKS)


def _sync_models(_args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from imaging_ai.services.models.catalog import sync_store_to_database

    with transaction(settings) as session:
        report = sync_store_to_database(session, settings.model_store_roots)
    print(json.dumps(asdict(report), indent=2))
    return 1 if report.rejected else 0


def _train_base(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from imaging_ai.ml.augment import AUGMENTATION_PRESETS
    from imaging_ai.ml.base_training import train_base_version
    from imaging_ai.ml.device import resolve_device
    from imaging_ai.ml.tasks import TASKS
    from imaging_ai.ml.training import TrainingParams

    task = TASKS[args.task]
    device = resolve_device(args.device or settings.device)
    external = dict(item.split("=", 1) for item in args.external)
    params = TrainingParams(
        architecture=args.architecture,
        input_size=args.input_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
        augmentation=replace(AUGMENTATION_PRESETS[args.augmentation], horizontal_flip=args.horizontal_flip),
    )
    stored = train_base_version(
        task,
        Path(args.manifest),
        store_root=Path(args.out) if args.out else settings.model_store_dir,
        version=args.version,
        params=params,
        external_sets={name: Path(path) for name, path in external.items()},
        notes=args.note,
        served_sensitivity=args.served_sensitivity,
        device=device,
        mixed_precision=settings.mixed_precision,
    )
    print(
        json.dumps({"version": stored.version, "path": str(stored.path), "metrics": stored.card["metrics"]})
    )
    return 0


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.ml.evaluation import evaluate_items
    from imaging_ai.ml.loading import load_model
    from imaging_ai.ml.manifest import read_manifest
    from imaging_ai.ml.tasks import TASKS
    from imaging_ai.services.models.catalog import find_stored_version

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


def _active_version(settings: Settings, task: str) -> str:
    from imaging_ai.persistence.database import create_session_factory
    from imaging_ai.persistence.model_versions import ModelVersionRepository

    with database(settings) as engine, create_session_factory(engine)() as session:
        active = ModelVersionRepository(session).active(task)
    if active is None:
        raise SystemExit(f"task {task} has no active version; pass --version")
    return active.id


def _fit_feature_density(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.ml.density_fit import DensityFitError, fit_version_density

    datasets = Path(args.datasets_dir) if args.datasets_dir else settings.datasets_dir
    try:
        stored, density = fit_version_density(Path(args.version_dir), datasets, quantile=args.quantile)
    except DensityFitError as error:
        print(json.dumps({"error": str(error)}), file=sys.stderr)
        return 2
    print(json.dumps({"version": stored.version, "files": stored.card["files"], **density.summary()}))
    return 0
