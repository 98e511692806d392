"""Peak memory of one decode, in bytes per pixel, for an 8-bit PNG, a 16-bit PNG and DICOMs.

Each measurement runs in a fresh process: the decoders are warmed up on a small image, the peak
resident set is reset (/proc/self/clear_refs), then one image is decoded and the new peak (VmHWM)
minus the resident set before the decode is divided by the image's pixels. Linux only.

    .venv/bin/python -m bench.decode_memory            # this checkout
    PYTHONPATH=<other checkout>/backend .venv/bin/python -m bench.decode_memory   # another version
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

SIDE = 4000
"""16 megapixels: large enough that the decoder's fixed overheads vanish in the per-pixel figure."""
MAX_PIXELS = 40_000_000
"""The default IMAGING_AI_MAX_IMAGE_PIXELS."""


def _ramp(dtype: type[np.generic], high: int) -> np.ndarray:
    rows = np.linspace(0, high, SIDE, dtype=np.float64)
    noise = np.random.default_rng(0).integers(0, 8, size=(SIDE, SIDE))
    return np.clip(rows[:, None] + noise, 0, high).astype(dtype)


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _dicom(array: np.ndarray, *, compressed: bool) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.1.1")  # digital X-ray
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset("bench.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.SOPClassUID, dataset.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    dataset.Modality = "DX"
    dataset.Rows, dataset.Columns = array.shape
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 12, 11, 0
    dataset.RescaleSlope, dataset.RescaleIntercept = "1.5", "-1024"
    dataset.PixelData = array.tobytes()
    if compressed:
        dataset.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


CASES: dict[str, Callable[[], bytes]] = {
    "png-8bit": lambda: _png(_ramp(np.uint8, 255)),
    "png-16bit": lambda: _png(_ramp(np.uint16, 65535)),
    "dicom-16bit-rescaled": lambda: _dicom(_ramp(np.uint16, 4095), compressed=False),
    "dicom-jpeg2000": lambda: _dicom(_ramp(np.uint16, 4095), compressed=True),
}


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def measure(path: Path) -> dict[str, int]:
    """Decode `path` once in a fresh process: peak_bytes (over the resident set before the decode),
    kept_bytes (the result's arrays) and pixels."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.decode_memory", "--child", str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    figures: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def _child(path: str) -> None:
    from imaging_ai.imaging import decode_image

    data = Path(path).read_bytes()
    decode_image(data, max_pixels=MAX_PIXELS)  # warm-up: libraries loaded, allocator pools grown
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
    before = _status("VmRSS")
    decoded = decode_image(data, max_pixels=MAX_PIXELS)
    pixels = decoded.metadata.rows * decoded.metadata.cols
    peak = _status("VmHWM")
    kept = decoded.pixels.nbytes + decoded.display.nbytes
    print(json.dumps({"peak_bytes": peak - before, "kept_bytes": kept, "pixels": pixels}))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
        return
    pixels = SIDE * SIDE
    print(f"{'image':<22} {'file MB':>8} {'peak B/px':>10} {'result B/px':>12}")
    with tempfile.TemporaryDirectory() as folder:
        for name, make in CASES.items():
            path = Path(folder) / name
            path.write_bytes(make())
            figures = measure(path)
            print(
                f"{name:<22} {path.stat().st_size / 1e6:>8.1f} {figures['peak_bytes'] / pixels:>10.1f}"
                f" {figures['kept_bytes'] / pixels:>12.1f}"
            )


if __name__ == "__main__":
    main()
