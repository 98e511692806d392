"""DICOM de-identification (PS3.15 Annex E Basic Profile; the actions are in `deid_profile`).

The output is a pure function of the input bytes and the key: no random UIDs, no clock. The
service deduplicates uploads by the SHA-256 of the stored bytes, so the same upload must always
store the same bytes, and the keyed UID mapping keeps the links between instances (same study,
same series, referenced images) that separate uploads of one study share. Running it on its own
output with the same key changes nothing (its UIDs are recognised, see `_UidMapper`), so a downloaded
de-identified file uploaded again is a duplicate, not a new image.

Not done (the caller must know): pixel data is not inspected, so text burned into the pixels
(Burned In Annotation = YES) is not removed (PS3.15 Clean Pixel Data Option).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from io import BytesIO

from pydicom import dcmwrite
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID

from imaging_ai.imaging import deid_profile as profile
from imaging_ai.imaging.dicom_read import read_dicom, require_pixel_data
from imaging_ai.imaging.errors import ImageError

# A UID of our own (2.25 + the fixed UUID uuid5(NAMESPACE_URL, "https://imaging-ai.invalid/dicom-
# implementation")) rather than pydicom's, whose value changes with each pydicom release and
# would change the stored bytes of the same upload after an upgrade.
IMPLEMENTATION_CLASS_UID = "2.25.242577424209164525663110238351933088443"
IMPLEMENTATION_VERSION_NAME = "IMAGING_AI_1"

_DICOM_ROOT = "1.2.840.10008."
_UID_ROOT = "2.25."
_CHECK_BITS = 32
_RANDOM_BITS = 96


@dataclass(frozen=True)
class DeidentifiedDicom:
    data: bytes
    """The de-identified DICOM file (preamble + file meta + data set): what gets stored."""
    patient_key: str | None
    """hex HMAC-SHA256(key, PatientID) truncated to 32 hex digits; None when PatientID is empty."""
    institution: str | None
    """Institution Name before removal (a site label for the caller), stripped; None when empty."""


def deidentify_dicom(data: bytes, *, key: bytes) -> DeidentifiedDicom:
    """De-identify a DICOM file; ImageError ``corrupt_dicom`` / ``dicom_no_pixel_data``."""
    dataset = read_dicom(data)
    require_pixel_data(dataset)
    try:
        patient_key = pseudonymise_patient_id(_text(dataset, "PatientID"), key)
        institution = _text(dataset, "InstitutionName") or None
        map_uid = _UidMapper(key)
        _apply_profile(dataset, map_uid)
        _mark_deidentified(dataset)
        output = _write(dataset, map_uid)
    except ImageError:
        raise
    except Exception as exc:
        # Malformed values surface only when converted; never echo them (they may be PHI).
        raise ImageError("corrupt_dicom", "The DICOM file could not be de-identified.") from exc
    return DeidentifiedDicom(data=output, patient_key=patient_key, institution=institution)


def pseudonymise_patient_id(patient_id: str, key: bytes) -> str | None:
    """The keyed hash the service uses for patient IDs (same as for uploader-given IDs)."""
    patient_id = patient_id.strip()
    if not patient_id:
        return None
    return hmac.new(key, patient_id.encode(), hashlib.sha256).hexdigest()[:32]


class _UidMapper:
    """Maps a UID to ``2.25.<128-bit integer>`` made from an HMAC of it.

    The integer is 96 bits of HMAC(key, uid) followed by 32 bits of HMAC(key, those 96 bits).
    The second part lets a UID this mapper produced be recognised and kept as is, which makes
    de-identification idempotent; an unrelated 2.25 UID passes that check with probability 2**-32.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        uid = uid.strip().rstrip("\x00")
        if not uid or uid.startswith(_DICOM_ROOT):
            return uid
        mapped = self._cache.get(uid)
        if mapped is None:
            mapped = uid if self._is_ours(uid) else self._map(uid)
            self._cache[uid] = mapped
        return mapped

    def _digest(self, label: bytes, value: bytes) -> bytes:
        return hmac.new(self._key, label + b"\x00" + value, hashlib.sha256).digest()

    def _check(self, random_part: int) -> int:
        digest = self._digest(b"uid-check", random_part.to_bytes(_RANDOM_BITS // 8, "big"))
        return int.from_bytes(digest[: _CHECK_BITS // 8], "big")

    def _map(self, uid: str) -> str:
        digest = self._digest(b"uid", uid.encode("ascii", "replace"))
        random_part = int.from_bytes(digest[: _RANDOM_BITS // 8], "big")
        return f"{_UID_ROOT}{(random_part << _CHECK_BITS) | self._check(random_part)}"

    def _is_ours(self, uid: str) -> bool:
        digits = uid.removeprefix(_UID_ROOT)
        if digits == uid or not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
            return False
        value = int(digits)
        if value >> (_RANDOM_BITS + _CHECK_BITS):
            return False
        return self._check(value >> _CHECK_BITS) == value & ((1 << _CHECK_BITS) - 1)


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    return "" if value is None else str(value).strip()


def _apply_profile(dataset: Dataset, map_uid: _UidMapper) -> None:
    for tag in list(dataset.keys()):
        if profile.is_removed_group(tag.group):
            del dataset[tag]
            continue
        action = profile.ACTIONS.get(tag)
        if action is profile.Action.REMOVE:
            del dataset[tag]
            continue
        element = dataset[tag]
        if action is profile.Action.EMPTY:
            _empty(element)
        elif element.VR == "SQ":
            for item in element.value:
                _apply_profile(item, map_uid)
        elif element.VR in profile.REMOVED_VRS:
            del dataset[tag]
        elif element.VR in profile.EMPTIED_VRS:
            _empty(element)
        elif element.VR == "UI" and element.keyword not in profile.CLASS_UID_KEYWORDS:
            _replace_uids(element, map_uid)


def _empty(element: DataElement) -> None:
    element.value = Sequence() if element.VR == "SQ" else element.empty_value


def _replace_uids(element: DataElement, map_uid: _UidMapper) -> None:
    value = element.value
    if isinstance(value, MultiValue | list):
        element.value = [map_uid(str(uid)) for uid in value]
    elif value:
        element.value = map_uid(str(value))


def _mark_deidentified(dataset: Dataset) -> None:
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = profile.METHOD_DESCRIPTION
    code = Dataset()
    code.CodeValue = profile.PROFILE_CODE_VALUE
    code.CodingSchemeDesignator = profile.PROFILE_CODING_SCHEME
    code.CodeMeaning = profile.PROFILE_CODE_MEANING
    dataset.DeidentificationMethodCodeSequence = Sequence([code])
    # Every date and time was emptied (PS3.3 C.12.1.1.2: REMOVED).
    dataset.LongitudinalTemporalInformationModified = "REMOVED"


def _write(dataset: Dataset, map_uid: _UidMapper) -> bytes:
    original_meta = dataset.file_meta
    sop_class = dataset.get("SOPClassUID") or original_meta.get("MediaStorageSOPClassUID")
    sop_instance = dataset.get("SOPInstanceUID") or map_uid(
        str(original_meta.get("MediaStorageSOPInstanceUID") or "")
    )
    if not sop_class or not sop_instance:
        raise ImageError("corrupt_dicom", "The DICOM file has no SOP Class or SOP Instance UID.")
    # A fresh File Meta group: the original may name the sending station (Source/Sending AE
    # titles) or carry private information, and the instance UID there must match the new one.
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(str(sop_class))
    meta.MediaStorageSOPInstanceUID = UID(str(sop_instance))
    meta.TransferSyntaxUID = original_meta.TransferSyntaxUID
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    dataset.file_meta = meta
    # The original preamble is free for application use (e.g. a TIFF header) and may hold anything.
    dataset.preamble = b"\x00" * 128
    buffer = BytesIO()
    dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()
