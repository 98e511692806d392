"""DICOM networking entry points (the layer of `api/`): the DICOM listener (C-STORE and C-ECHO SCP).

It receives instances from a PACS or a modality and hands each to `services.cases.dicom_intake`; the
services never import it.
"""
