"""The imaging layer stays free of web, database and ML frameworks (training and serving share it)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_imaging_layer_pulls_in_no_framework() -> None:
    code = (
        "import sys, imaging_ai.imaging\n"
        "heavy = ('fastapi', 'starlette', 'sqlalchemy', 'torch', 'torchvision', 'pydantic')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
