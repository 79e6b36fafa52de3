"""The virtual model's vocabulary: DTDL interfaces, their validation, and the shared errors.

``ontology`` is the bottom layer of kgtwin: pure Python, no database, no network.
``parse`` reads a batch of DTDL v2/v3/v4 documents into a :class:`ModelSet`, following
the official metamodel shipped in ``ontology/dtdl_data``; ``validate_files`` does the
same for files and folders, as ``kgtwin models validate`` shows it.
"""

from ontology.dtmi import is_valid_dtmi
from ontology.errors import (
    BackendUnavailable,
    BadRequest,
    ConfigurationInvalid,
    Conflict,
    ErrorCode,
    KgtwinError,
    NotFound,
    NotImplementedYet,
    ValidationFailed,
)
from ontology.files import FileIssue, FileValidationReport, validate_files
from ontology.instances import InstanceInvalid, InstanceIssue, TwinValidator, validator_for
from ontology.labels import LabelIndex, display_name, label_index
from ontology.model import (
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    Content,
    EnumSchema,
    EnumValue,
    Field,
    Interface,
    MapSchema,
    ModelSet,
    ObjectSchema,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)
from ontology.model_errors import IssueCode, ModelError, ModelIssue
from ontology.parser import ParseResult, parse, parse_partial

__all__ = [
    "ArraySchema",
    "BackendUnavailable",
    "BadRequest",
    "Command",
    "CommandPayload",
    "Component",
    "ConfigurationInvalid",
    "Conflict",
    "Content",
    "EnumSchema",
    "EnumValue",
    "ErrorCode",
    "Field",
    "FileIssue",
    "FileValidationReport",
    "InstanceInvalid",
    "InstanceIssue",
    "Interface",
    "IssueCode",
    "KgtwinError",
    "LabelIndex",
    "MapSchema",
    "ModelError",
    "ModelIssue",
    "ModelSet",
    "NotFound",
    "NotImplementedYet",
    "ObjectSchema",
    "ParseResult",
    "PrimitiveSchema",
    "Property",
    "Relationship",
    "Schema",
    "Telemetry",
    "TwinValidator",
    "ValidationFailed",
    "display_name",
    "is_valid_dtmi",
    "label_index",
    "parse",
    "parse_partial",
    "validate_files",
    "validator_for",
]
