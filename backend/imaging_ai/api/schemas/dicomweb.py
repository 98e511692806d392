"""The STOW-RS response (DICOM PS3.18 10.5): the `application/dicom+json` dataset (the request's
`multipart/related` body is read by `api/multipart.py`).

The response names each instance by the UIDs the sender gave it (never stored): stored ones in the
ReferencedSOPSequence (0008,1199), refused ones in the FailedSOPSequence (0008,1198) with a Failure
Reason (0008,1197). Each item also carries our own answer in private attributes of the block
`IMAGING_AI 1.0` (group 0077): the image id (0077,1001), the prediction id (0077,1002), the task
(0077,1003), and for a refused instance the stable error code (0077,1010) and its explanation
(0077,1011). An instance received before (the same de-identified bytes) is answered with the earlier
image and prediction and marked `RECEIVED_BEFORE` in (0077,1004).
"""

from __future__ import annotations

from typing import Any

from imaging_ai.services.cases.dicom_intake import InstanceOutcome

DICOM_JSON = "application/dicom+json"
MULTIPART_DICOM = 'multipart/related; type="application/dicom"'

PRIVATE_CREATOR = "IMAGING_AI 1.0"
_PRIVATE_GROUP = "0077"
_CREATOR_TAG = f"{_PRIVATE_GROUP}0010"
_IMAGE_ID = f"{_PRIVATE_GROUP}1001"
_PREDICTION_ID = f"{_PRIVATE_GROUP}1002"
_TASK = f"{_PRIVATE_GROUP}1003"
_RECEIVED_BEFORE = f"{_PRIVATE_GROUP}1004"
_ERROR_CODE = f"{_PRIVATE_GROUP}1010"
_ERROR_MESSAGE = f"{_PRIVATE_GROUP}1011"

REFERENCED_SOP_SEQUENCE = "00081199"
FAILED_SOP_SEQUENCE = "00081198"
FAILURE_REASON = "00081197"
REFERENCED_SOP_CLASS_UID = "00081150"
REFERENCED_SOP_INSTANCE_UID = "00081155"

# Failure Reasons (PS3.4 C.4.2.1.4, PS3.18 Table 10.5.3-2) by the kind of refusal.
PROCESSING_FAILURE = 0x0110
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000


def _uid(tag_value: str | None) -> dict[str, Any]:
    return {"vr": "UI", "Value": [tag_value]} if tag_value else {"vr": "UI"}


def _text(vr: str, value: str | None) -> dict[str, Any]:
    return {"vr": vr, "Value": [value]} if value else {"vr": vr}


def failure_reason(outcome: InstanceOutcome) -> int:
    """The Failure Reason of a refused instance, from its error."""
    if outcome.error_code == "study_mismatch":
        return DOES_NOT_MATCH
    status = outcome.error_status or 500
    if status == 413:
        return OUT_OF_RESOURCES
    if status >= 500:
        return PROCESSING_FAILURE
    return CANNOT_UNDERSTAND


def _item(outcome: InstanceOutcome) -> dict[str, Any]:
    item: dict[str, Any] = {
        REFERENCED_SOP_CLASS_UID: _uid(outcome.sop_class_uid),
        REFERENCED_SOP_INSTANCE_UID: _uid(outcome.sop_instance_uid),
        _CREATOR_TAG: _text("LO", PRIVATE_CREATOR),
    }
    if outcome.accepted:
        item[_IMAGE_ID] = _text("LO", str(outcome.image_id) if outcome.image_id else None)
        item[_PREDICTION_ID] = _text("LO", str(outcome.prediction_id) if outcome.prediction_id else None)
        item[_TASK] = _text("LO", outcome.task)
        if not outcome.created:
            item[_RECEIVED_BEFORE] = _text("CS", "RECEIVED_BEFORE")
    else:
        item[FAILURE_REASON] = {"vr": "US", "Value": [failure_reason(outcome)]}
        item[_ERROR_CODE] = _text("LO", outcome.error_code)
        item[_ERROR_MESSAGE] = _text("UT", outcome.error_message)
    return item


def stow_response(outcomes: list[InstanceOutcome]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, response dataset): 200 all stored, 202 some refused, 409 all refused."""
    stored = [_item(outcome) for outcome in outcomes if outcome.accepted]
    failed = [_item(outcome) for outcome in outcomes if not outcome.accepted]
    dataset: dict[str, Any] = {}
    if stored:
        dataset[REFERENCED_SOP_SEQUENCE] = {"vr": "SQ", "Value": stored}
    if failed:
        dataset[FAILED_SOP_SEQUENCE] = {"vr": "SQ", "Value": failed}
    status = 409 if not stored else 202 if failed else 200
    return status, dataset


STOW_RESPONSE_EXAMPLE: dict[str, Any] = {
    REFERENCED_SOP_SEQUENCE: {
        "vr": "SQ",
        "Value": [
            {
                REFERENCED_SOP_CLASS_UID: {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.1"]},
                REFERENCED_SOP_INSTANCE_UID: {"vr": "UI", "Value": ["1.2.826.0.1.3680043.8.498.1001"]},
                _CREATOR_TAG: {"vr": "LO", "Value": [PRIVATE_CREATOR]},
                _IMAGE_ID: {"vr": "LO", "Value": ["0b8f1f7e-3c39-4d53-9a55-0f5b9d3e2c11"]},
                _PREDICTION_ID: {"vr": "LO", "Value": ["5d0c8e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6"]},
                _TASK: {"vr": "LO", "Value": ["chest-xray-pneumonia"]},
            }
        ],
    },
    FAILED_SOP_SEQUENCE: {
        "vr": "SQ",
        "Value": [
            {
                REFERENCED_SOP_CLASS_UID: {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.1"]},
                REFERENCED_SOP_INSTANCE_UID: {"vr": "UI", "Value": ["1.2.826.0.1.3680043.8.498.1002"]},
                FAILURE_REASON: {"vr": "US", "Value": [CANNOT_UNDERSTAND]},
                _CREATOR_TAG: {"vr": "LO", "Value": [PRIVATE_CREATOR]},
                _ERROR_CODE: {"vr": "LO", "Value": ["corrupt_dicom"]},
                _ERROR_MESSAGE: {"vr": "UT", "Value": ["The DICOM file is truncated."]},
            }
        ],
    },
}
