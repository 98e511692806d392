"""The attribute actions of DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile.

A documented subset of Table E.1-1 (the attributes that occur in image objects and their
requests/worklists), plus whole-VR rules that make the profile hold for attributes the table
lists but this subset does not name:

* every Person Name (PN) is emptied, every date, time and date-time (DA, TM, DT) is emptied and
  every age (AS) is removed, wherever it occurs. The table covers nearly all of them (a few
  technical ones, such as calibration dates, it keeps), so this is stricter, never laxer, and
  nothing the decoder or the models use is lost;
* every UID (UI) that is not a DICOM-registered one (``1.2.840.10008.*``: SOP classes, transfer
  syntaxes, well-known frames of reference) is replaced (action U) - the table's U list is the
  instance, series, study, frame-of-reference and device UIDs, and this covers them all, in any
  sequence, without a list to keep up to date; UIDs naming classes and coding schemes are kept;
* private attributes, curve data (50xx) and overlays (60xx, whose bitmaps and comments may carry
  burned-in text) are removed.

Where the table gives a choice (X/Z, X/Z/D, Z/D) this uses Z for attributes that are Type 2 in
common image IODs and X otherwise. D (a dummy value) is not used: a Type 1 date or name the
table would replace with a dummy is emptied instead, which keeps even less information (a strict
IOD validator may flag it; the decoder does not care).
Characteristics the table removes are removed (age, size, weight, ethnic group; sex emptied):
this service does not claim the Retain Patient Characteristics Option.
"""

from __future__ import annotations

from enum import Enum

from pydicom.datadict import tag_for_keyword


class Action(Enum):
    EMPTY = "Z"
    REMOVE = "X"


_EMPTY = """
    AccessionNumber PatientName PatientID PatientBirthDate PatientSex ReferringPhysicianName
    StudyDate StudyTime StudyID ContentDate ContentTime ContentCreatorName ContrastBolusAgent
    FillerOrderNumberImagingServiceRequest PlacerOrderNumberImagingServiceRequest
    AcquisitionContextSequence VerifyingObserverIdentificationCodeSequence
"""

_REMOVE = """
    PatientBirthTime PatientAge PatientSize PatientWeight PatientAddress PatientTelephoneNumbers
    PatientTelecomInformation OtherPatientIDs OtherPatientNames OtherPatientIDsSequence
    PatientBirthName PatientMotherBirthName MedicalRecordLocator EthnicGroup Occupation
    AdditionalPatientHistory PatientComments PatientReligiousPreference MilitaryRank BranchOfService
    CountryOfResidence RegionOfResidence MedicalAlerts Allergies SmokingStatus PregnancyStatus
    LastMenstrualDate PatientState SpecialNeeds PatientInsurancePlanCodeSequence
    PatientPrimaryLanguageCodeSequence IssuerOfPatientID IssuerOfPatientIDQualifiersSequence
    PatientSexNeutered ResponsiblePerson ResponsibleOrganization ReferencedPatientSequence
    ReferencedPatientAliasSequence ReferencedPatientPhotoSequence PatientTransportArrangements
    PatientInstitutionResidence CurrentPatientLocation PatientBirthDateInAlternativeCalendar
    PatientDeathDateInAlternativeCalendar PatientAlternativeCalendar

    AdmissionID AdmittingDate AdmittingTime AdmittingDiagnosesDescription
    AdmittingDiagnosesCodeSequence DischargeDiagnosisDescription RouteOfAdmissions ServiceEpisodeID
    ServiceEpisodeDescription IssuerOfAdmissionIDSequence IssuerOfServiceEpisodeIDSequence
    VisitComments

    InstitutionName InstitutionAddress InstitutionalDepartmentName
    InstitutionalDepartmentTypeCodeSequence InstitutionCodeSequence ReferringPhysicianAddress
    ReferringPhysicianTelephoneNumbers ReferringPhysicianIdentificationSequence
    ConsultingPhysicianName ConsultingPhysicianIdentificationSequence PhysiciansOfRecord
    PhysiciansOfRecordIdentificationSequence PerformingPhysicianName
    PerformingPhysicianIdentificationSequence NameOfPhysiciansReadingStudy
    PhysiciansReadingStudyIdentificationSequence OperatorsName OperatorIdentificationSequence
    RequestingPhysician RequestingPhysicianIdentificationSequence RequestingService
    RequestingServiceCodeSequence ScheduledPerformingPhysicianName
    ScheduledPerformingPhysicianIdentificationSequence OrderEnteredBy OrderEntererLocation
    OrderCallbackPhoneNumber OrderCallbackTelecomInformation PersonName PersonAddress
    PersonTelephoneNumbers PersonTelecomInformation PersonIdentificationCodeSequence
    HumanPerformerName HumanPerformerOrganization ActualHumanPerformersSequence VerifyingOrganization
    AuthorObserverSequence ParticipantSequence CustodialOrganizationSequence
    ContentCreatorIdentificationCodeSequence EvaluatorName

    StationName DeviceSerialNumber DetectorID GantryID GeneratorID PlateID CassetteID
    DeviceDescription DeviceLabel SoftwareVersions ModifyingDeviceID ModifyingDeviceManufacturer
    PerformedStationAETitle PerformedStationName PerformedStationNameCodeSequence PerformedLocation
    ScheduledStationAETitle ScheduledStationName ScheduledStationNameCodeSequence
    ScheduledStudyLocation ScheduledStudyLocationAETitle

    SeriesDate SeriesTime AcquisitionDate AcquisitionTime AcquisitionDateTime TimezoneOffsetFromUTC

    StudyDescription SeriesDescription ProtocolName ImageComments FrameComments AcquisitionComments
    DerivationDescription AcquisitionDeviceProcessingDescription AcquisitionProtocolDescription
    TextComments TextString ContentSequence

    ReferencedStudySequence RequestAttributesSequence ReferencedPerformedProcedureStepSequence
    IssuerOfAccessionNumberSequence ImagingServiceRequestComments ReasonForTheRequestedProcedure
    ReasonForStudy RequestedProcedureID RequestedProcedureDescription RequestedProcedureComments
    RequestedProcedureLocation ScheduledProcedureStepID ScheduledProcedureStepDescription
    ScheduledProcedureStepLocation ScheduledProcedureStepStartDate ScheduledProcedureStepStartTime
    ScheduledProcedureStepEndDate ScheduledProcedureStepEndTime PerformedProcedureStepID
    PerformedProcedureStepDescription PerformedProcedureStepStartDate PerformedProcedureStepStartTime
    PerformedProcedureStepEndDate PerformedProcedureStepEndTime CommentsOnThePerformedProcedureStep

    IconImageSequence OriginalAttributesSequence ModifiedAttributesSequence DigitalSignaturesSequence
    ReferencedDigitalSignatureSequence ReferencedSOPInstanceMACSequence MACParametersSequence
    EncryptedAttributesSequence DataSetTrailingPadding
"""

# UIDs that name a kind of thing (a SOP class, transfer syntax or coding scheme), not an instance,
# so they identify nobody and must survive for the object to stay interpretable.
_CLASS_UIDS = """
    SOPClassUID ReferencedSOPClassUID MediaStorageSOPClassUID ReferencedSOPClassUIDInFile
    AffectedSOPClassUID RequestedSOPClassUID RelatedGeneralSOPClassUID OriginalSpecializedSOPClassUID
    SOPClassesInStudy TransferSyntaxUID ReferencedTransferSyntaxUIDInFile
    EncryptedContentTransferSyntaxUID CodingSchemeUID ContextUID MappingResourceUID
"""
CLASS_UID_KEYWORDS = frozenset(_CLASS_UIDS.split())

EMPTIED_VRS = frozenset({"PN", "DA", "TM", "DT"})
REMOVED_VRS = frozenset({"AS"})

PROFILE_CODE_VALUE = "113100"
PROFILE_CODING_SCHEME = "DCM"
PROFILE_CODE_MEANING = "Basic Application Confidentiality Profile"
METHOD_DESCRIPTION = "DICOM PS3.15 E.1 Basic Application Confidentiality Profile"


def _tags(keywords: str, action: Action) -> dict[int, Action]:
    table: dict[int, Action] = {}
    for keyword in keywords.split():
        tag = tag_for_keyword(keyword)
        if tag is None:  # a typo here would silently keep an identifying attribute
            raise RuntimeError(f"unknown DICOM keyword in the de-identification profile: {keyword}")
        table[tag] = action
    return table


ACTIONS: dict[int, Action] = {**_tags(_EMPTY, Action.EMPTY), **_tags(_REMOVE, Action.REMOVE)}


def is_removed_group(group: int) -> bool:
    """Private groups, curves (50xx) and overlays (60xx)."""
    return group % 2 == 1 or (group >> 8) in (0x50, 0x60)
