"""Validate DTDL files and folders, reporting each violation as ``file:pointer: code: message``.

This is what ``kgtwin models validate`` runs, so modelers get the same answer in their
own CI as the twin gives when the models are uploaded. Every ``*.json`` file is one
document (an Interface or an array of them); all files are parsed as one batch, so
references between files resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ontology.model import ModelSet
from ontology.model_errors import IssueCode
from ontology.parser import MAX_DOCUMENT_BYTES, parse_partial
from ontology.policy import DEFAULT_POLICY, DtdlPolicy


@dataclass(frozen=True, slots=True)
class FileIssue:
    """One violation located in a file: ``path`` is a JSON Pointer into that file."""

    file: Path
    path: str
    code: str
    message: str
    dtmi: str | None = None

    def format(self) -> str:
        """The line a modeler reads: ``file:pointer: code: message``."""
        return f"{self.file}:{self.path}: {self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "path": self.path,
            "code": self.code,
            "message": self.message,
            "dtmi": self.dtmi,
        }


@dataclass(frozen=True)
class FileValidationReport:
    """The outcome of validating a set of files: the valid Interfaces and every violation."""

    files: tuple[Path, ...]
    errors: tuple[FileIssue, ...]
    models: ModelSet

    @property
    def valid(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        return [e.format() for e in self.errors]

    def to_json(self) -> dict[str, Any]:
        """``{"valid": bool, "errors": [...]}`` as ``--json`` prints it."""
        return {"valid": self.valid, "errors": [e.to_dict() for e in self.errors]}


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[FileIssue]]:
    """Files to read: each file as given, each folder's ``*.json`` files recursively, sorted."""
    files: list[Path] = []
    problems: list[FileIssue] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(FileIssue(path, "", IssueCode.FILE_UNREADABLE.value, "no such file or folder"))
    return list(dict.fromkeys(files)), problems


def _read(path: Path) -> tuple[str | None, FileIssue | None]:
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            return None, FileIssue(
                path,
                "",
                IssueCode.DOCUMENT_TOO_LARGE.value,
                f"file is larger than {MAX_DOCUMENT_BYTES} bytes",
            )
        return path.read_text(encoding="utf-8-sig"), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, FileIssue(path, "", IssueCode.FILE_UNREADABLE.value, f"cannot read file: {exc}")


def validate_files(
    paths: Sequence[Path],
    *,
    policy: DtdlPolicy = DEFAULT_POLICY,
    known: ModelSet | None = None,
) -> FileValidationReport:
    """Parse every ``.json`` file under ``paths`` as one batch and locate each violation in its file."""
    files, problems = expand_paths(paths)
    documents: list[str] = []
    sources: list[Path] = []
    for path in files:
        text, issue = _read(path)
        if text is None:
            problems.extend([issue] if issue is not None else [])
            continue
        documents.append(text)
        sources.append(path)
    result = parse_partial(documents, policy=policy, known=known)
    located = [FileIssue(sources[e.document], e.path, e.code.value, e.message, e.dtmi) for e in result.errors]
    return FileValidationReport(tuple(files), tuple(problems + located), result.models)
