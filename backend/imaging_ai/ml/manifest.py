"""Labelled image manifests: the `manifest.csv` format of the shared datasets
(`path,label,site,split,...`, paths relative to the manifest's folder)."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ManifestItem:
    path: Path
    label: str
    site: str
    split: str
    patient_id: str | None


def read_manifest(manifest: Path, *, labels: tuple[str, ...] | None = None) -> list[ManifestItem]:
    """Rows of a manifest; with ``labels`` given, rows with other labels are an error."""
    base = manifest.parent
    items = []
    with manifest.open(newline="") as handle:
        for row in csv.DictReader(handle):
            label = row["label"].strip()
            if labels is not None and label not in labels:
                raise ValueError(f"{manifest.name}: label {label!r} is not one of {labels}")
            items.append(
                ManifestItem(
                    path=base / row["path"],
                    label=label,
                    site=row.get("site", "").strip(),
                    split=(row.get("split") or row.get("split_if_any") or "").strip(),
                    patient_id=(row.get("patient_id") or "").strip() or None,
                )
            )
    return items


def stable_fraction(key: str, seed: int) -> float:
    """A deterministic number in [0, 1) for a key: the basis of every seeded, reproducible split."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def group_key(item: ManifestItem) -> str:
    """Patient when known (so a patient never crosses a split), else the image itself."""
    return item.patient_id or str(item.path)
