"""Choosing the drift detector's threshold h before any real image is scored.

Monte Carlo on i.i.d. N(0, 1) feature and output scores (what `FeatureDensity.feature_z/output_z`
give in-distribution images): many streams run through the detector's own CUSUMs (`CusumBank`, reset
after each alarm), the false alarms counted. The average run length (ARL0) is images per false
alarm; h is the smallest on the grid whose ARL0 is at least the target.

    .venv/bin/python -m bench.drift_calibration --streams 4000 --images 50000 --grid 7.6:8.2:0.1 \
        --out docs/bench/drift
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from imaging_ai.ml.drift_detector import CusumBank, DriftPolicy

TARGET_ARL0 = 5000


@dataclass(frozen=True)
class Simulated:
    h: float
    k: float
    images: int
    false_alarms: int
    arl0: float
    """Images per false alarm of the three CUSUMs together."""
    arl0_low: float
    arl0_high: float
    """95% interval (Poisson on the alarm count)."""


def simulate_arl0(
    h: float, *, k: float = 0.5, streams: int = 4000, images: int = 25_000, seed: int = 0
) -> Simulated:
    rng = np.random.default_rng(seed)
    bank = CusumBank(streams, DriftPolicy(k=k, h=h))
    alarms = 0
    for _ in range(images):
        scores = rng.standard_normal((2, streams))
        alarms += int(bank.update(scores[0], scores[1]).sum())
    total = streams * images
    spread = 1.96 * math.sqrt(max(alarms, 1))
    return Simulated(
        h=h,
        k=k,
        images=total,
        false_alarms=alarms,
        arl0=total / max(alarms, 1),
        arl0_low=total / (alarms + spread),
        arl0_high=total / max(alarms - spread, 1.0),
    )


def choose_h(grid: list[float], *, k: float, streams: int, images: int) -> tuple[float, list[Simulated]]:
    results = [simulate_arl0(h, k=k, streams=streams, images=images) for h in grid]
    chosen = next((r.h for r in results if r.arl0 >= TARGET_ARL0), grid[-1])
    return chosen, results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=4000)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--k", type=float, default=0.5)
    parser.add_argument("--grid", default="7.6:8.2:0.1", help="start:stop:step of h")
    parser.add_argument("--out", type=Path, help="Folder for drift_calibration.json.")
    args = parser.parse_args()
    start, stop, increment = (float(x) for x in args.grid.split(":"))
    grid = [round(float(h), 3) for h in np.arange(start, stop + 1e-9, increment)]
    chosen, results = choose_h(grid, k=args.k, streams=args.streams, images=args.images)
    print("| h | false alarms | ARL0 (images per false alarm) | 95% interval |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r.h} | {r.false_alarms} | {r.arl0:.0f} | {r.arl0_low:.0f}-{r.arl0_high:.0f} |")
    summary = {
        "chosen_h": chosen,
        "target_arl0": TARGET_ARL0,
        "streams": args.streams,
        "images_per_stream": args.images,
        "results": [asdict(r) for r in results],
        "command": ".venv/bin/python -m bench.drift_calibration "
        f"--streams {args.streams} --images {args.images} --grid {args.grid} --out docs/bench/drift",
    }
    print(json.dumps({"chosen_h": chosen, "target_arl0": TARGET_ARL0}))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "drift_calibration.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
