"""The FMU library: upload, list, inspect and delete FMUs, file and reference node together.

An upload is checked whole (``archive.inspect_fmu``) before anything is written; then the
file is stored (content-addressed) and the reference node created. If the node cannot be
written (the Interface is not a stored model, the graph is away), a file this upload
added is removed again: nothing is left half-stored. Deleting removes the node first,
then the file, so a crash in between leaves a file no node names (harmless, and the same
upload later finds it in place), never a node without its file.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from pathlib import Path

from graph.fmus import FmuNodes, FmuReference
from graph.shadows import ShadowNodes
from graph.times import utc_now
from ontology.errors import Conflict, NotFound
from ontology.model import ModelSet
from simulation.fmu.archive import DEFAULT_MAX_BYTES, FmuDescription, inspect_fmu
from simulation.fmu.store import FmuFiles, sha256_of

ID_LENGTH = 16
"""Hex digits of the SHA-256 that make an FMU's id: unique among any realistic library."""


@dataclass(frozen=True)
class StoredFmu:
    """An FMU of the library: its reference, its description, and where its file is."""

    reference: FmuReference
    description: FmuDescription
    path: Path

    @property
    def id(self) -> str:
        return self.reference.id

    @property
    def interface(self) -> str:
        return self.reference.interface


class FmuLibrary:
    """FMUs for the twins' Interfaces: files in ``files``, reference nodes in ``nodes``."""

    def __init__(self, nodes: FmuNodes, files: FmuFiles, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.nodes = nodes
        self.files = files
        self.max_bytes = max_bytes

    def add(self, data: bytes, interface: str, *, name: str, models: ModelSet | None = None) -> StoredFmu:
        """Check and store an FMU for ``interface``.

        ``ValidationFailed`` for an FMU kgtwin cannot run (``archive``), ``NotFound`` for an
        Interface that is not stored, ``Conflict`` for the same FMU already stored for
        another Interface. The same FMU uploaded again for the same Interface is answered
        with the stored one.
        """
        description = inspect_fmu(data, name=name, max_bytes=self.max_bytes)
        if models is not None and interface not in models:
            raise NotFound(
                f"model {interface} does not exist; upload the Interface before its FMU",
                details={"dtmi": interface},
            )
        sha256 = sha256_of(data)
        fmu_id = sha256[:ID_LENGTH]
        try:
            existing = self.nodes.get(fmu_id)
        except NotFound:
            existing = None
        if existing is not None:
            if existing.interface != interface:
                raise Conflict(
                    f"this FMU is already stored as {fmu_id} for {existing.interface}; "
                    "delete it there first to use it for another Interface",
                    details={"fmu": fmu_id, "interface": existing.interface},
                )
            self.files.put(data)  # a file lost from the volume comes back
            return self._stored(existing)
        _, new_file = self.files.put(data)
        reference = FmuReference(
            id=fmu_id,
            sha256=sha256,
            name=name,
            size=len(data),
            uploaded_at=utc_now(),
            interface=interface,
            description=description.to_dict(),
        )
        try:
            created = self.nodes.create(reference)
        except BaseException:
            if new_file:
                self.files.delete(sha256)
            raise
        return StoredFmu(created, description, self.files.path(sha256))

    def get(self, fmu_id: str) -> StoredFmu:
        """The FMU ``fmu_id``; ``NotFound`` when there is none (or its file is gone)."""
        reference = self.nodes.get(fmu_id)
        if not self.files.exists(reference.sha256):
            raise NotFound(
                f"the file of FMU {fmu_id} is missing from {self.files.root}", details={"fmu": fmu_id}
            )
        return self._stored(reference)

    def list(self, interface: str | None = None) -> builtins.list[StoredFmu]:
        return [self._stored(r) for r in self.nodes.list(interface)]

    def delete(self, fmu_id: str) -> None:
        """Delete the node, then the file; ``Conflict`` while an active shadow runs the FMU."""
        reference = self.nodes.get(fmu_id)
        users = ShadowNodes(self.nodes.store).in_use(fmu_id)
        if users:
            raise Conflict(
                f"FMU {fmu_id} runs in active shadows ({', '.join(users)}); stop them first",
                details={"fmu": fmu_id, "shadows": users},
            )
        self.nodes.delete(fmu_id)
        self.files.delete(reference.sha256)

    def _stored(self, reference: FmuReference) -> StoredFmu:
        return StoredFmu(
            reference, FmuDescription.from_dict(reference.description), self.files.path(reference.sha256)
        )
