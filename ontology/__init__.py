"""The virtual model's vocabulary: DTDL interfaces, their validation, and the shared errors.

``ontology`` is the bottom layer of kgtwin: pure Python, no database, no network.
``parse`` reads a batch of DTDL v2/v3/v4 documents into a :class:`ModelSet`, following
the official metamodel shipped in ``ontology/dtdl_data``; ``validate_files`` does the
same for files and folders, as ``kgtwin models validate`` shows it. ``ModelRegistry``
keeps the models a twin graph may use (persisted through the ``ModelStore`` port), and
``base_models`` is the ontology kgtwin ships (spaces, assets, production, HVAC).
"""

from ontology.base import ENTITY, base_model_set, base_models
from ontology.brick import brick_graph, brick_interfaces, brick_versions
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
    PreconditionFailed,
    ValidationFailed,
)
from ontology.evolution import EvolutionReport, ModelDiff, TwinMigration, diff_models, evolution_report
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
from ontology.model_store import InMemoryModelStore, ModelStore, StoredModel
from ontology.parser import ParseResult, parse, parse_partial
from ontology.patch import (
    PatchFailed,
    PatchMalformed,
    PatchTargetMissing,
    PatchTestFailed,
    apply_patch,
    validate_patch,
)
from ontology.policy import DtdlPolicy
from ontology.rdf import ImportNote, RdfImport, from_rdf, to_graph, to_turtle
from ontology.registry import ModelRegistry, TwinCount
from ontology.resolved import ResolvedModel, content_json, schema_json

__all__ = [
    "ENTITY",
    "ArraySchema",
    "BackendUnavailable",
    "BadRequest",
    "Command",
    "CommandPayload",
    "Component",
    "ConfigurationInvalid",
    "Conflict",
    "Content",
    "DtdlPolicy",
    "EnumSchema",
    "EnumValue",
    "ErrorCode",
    "EvolutionReport",
    "Field",
    "FileIssue",
    "FileValidationReport",
    "ImportNote",
    "InMemoryModelStore",
    "InstanceInvalid",
    "InstanceIssue",
    "Interface",
    "IssueCode",
    "KgtwinError",
    "LabelIndex",
    "MapSchema",
    "ModelDiff",
    "ModelError",
    "ModelIssue",
    "ModelRegistry",
    "ModelSet",
    "ModelStore",
    "NotFound",
    "NotImplementedYet",
    "ObjectSchema",
    "ParseResult",
    "PatchFailed",
    "PatchMalformed",
    "PatchTargetMissing",
    "PatchTestFailed",
    "PreconditionFailed",
    "PrimitiveSchema",
    "Property",
    "RdfImport",
    "Relationship",
    "ResolvedModel",
    "Schema",
    "StoredModel",
    "Telemetry",
    "TwinCount",
    "TwinMigration",
    "TwinValidator",
    "ValidationFailed",
    "apply_patch",
    "base_model_set",
    "base_models",
    "brick_graph",
    "brick_interfaces",
    "brick_versions",
    "content_json",
    "diff_models",
    "display_name",
    "evolution_report",
    "from_rdf",
    "is_valid_dtmi",
    "label_index",
    "parse",
    "parse_partial",
    "schema_json",
    "to_graph",
    "to_turtle",
    "validate_files",
    "validate_patch",
    "validator_for",
]
