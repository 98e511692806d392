"""Memory of site-scoped serving: one process serving three sites from three versions.

    .venv/bin/python -m bench.serving_memory

Loads the shipped chest X-ray version, then two more versions (copies of its weights under other
names, as adapted versions of the same architecture are) into the serving runtime, and answers one
prediction per site with each; reports the process's resident memory after each step and the cost of
each extra version as a ratio of the process's memory with one version, measured in the same run.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from bench.common import ROOT
from imaging_ai.ml.runtime import ModelRuntime
from imaging_ai.storage.model_store import list_versions, write_version


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    torch.set_num_threads(2)
    [shipped] = [v for v in list_versions(ROOT / "model_store") if v.task == "chest-xray-pneumonia"]
    size = int(shipped.preprocessing["input_size"])
    runtime = ModelRuntime(6, max_batch=8)
    steps = {"before": round(rss_mib(), 1)}
    with tempfile.TemporaryDirectory() as store:
        paths = {"site-a": shipped.path}
        for name, site in (("v2", "site-b"), ("v3", "site-c")):
            copy = write_version(
                Path(store), version=f"chest-xray-pneumonia.{name}", task=shipped.task,
                weights=shipped.read_verified_weights(), card=shipped.card,
                preprocessing=shipped.preprocessing,
            )  # fmt: skip
            paths[site] = copy.path
        for count, (site, path) in enumerate(paths.items(), start=1):
            version = "chest-xray-pneumonia.v1" if site == "site-a" else Path(path).name
            model = runtime.serving(f"chest-xray-pneumonia@{site}", version, str(path))
            runtime.predict(model, torch.rand(1, size, size))
            steps[f"{count} version(s) serving {count} site(s)"] = round(rss_mib(), 1)
    one = steps["1 version(s) serving 1 site(s)"] - steps["before"]
    three = steps["3 version(s) serving 3 site(s)"] - steps["before"]
    result = {"rss_mib": steps, "three_versions_over_one": round(three / one, 2) if one > 0 else None}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
