"""Bulk import of the twin graph through the ``GraphStore`` port (``docs/bulk-format.md``).

:func:`import_bulk` streams a bulk file (``graph.bulk``) in batches: models not yet
registered are uploaded, every twin and relationship is validated against the ontology,
and valid lines are written so that a re-run changes nothing and a failed import can be
fixed and run again. Each batch learns which of its twins and edges exist, then creates
the new ones with ``UNWIND ... CREATE``, merges changed twins, rewrites changed edges and
leaves unchanged ones alone. Invalid lines are reported with their numbers and skipped
(like Azure Digital Twins import jobs); ``dry_run`` validates everything and writes
nothing. Nodes and edges get the same physical shape ``TwinGraph`` writes
(``docs/graph-model.md``), telemetry reference included.

Two things keep a large import fast. The run remembers the twins it wrote (id and model,
up to ``MEMO_LIMIT``), so relationships between them need no read; and when the graph held
no twin at the start (a *fresh* import, the usual first load), a twin it has not written
is known to be absent, so no batch reads at all. Batches are written on a thread of their
own (``graph._import_pipeline``) while the next ones are parsed and validated. Twin
batches are written by ``graph._import_twins``, relationship batches by
``graph._import_edges``, change events and the graph's version by ``graph._import_events``.
``graph.exporter`` writes the same format.
"""

from __future__ import annotations

import gc
import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from graph._import_checks import RelationshipChecks, refuse_all, reserved
from graph._import_edges import EdgeBatchWriter
from graph._import_memo import TwinMemo
from graph._import_pipeline import WritePipeline, write_pipeline
from graph._import_twins import PendingTwin, prepare_twins, write_twins
from graph.bulk import TELEMETRY, BulkIssue, BulkLine, ByteStream, Section, read_bulk, twin_document
from graph.cypher import MAX_ROWS
from graph.events import EventBus
from graph.model_store import GraphModelStore
from graph.physical import SYSTEM_KEYS
from graph.relabel import relabel_twins
from graph.store import GraphStore
from graph.telemetry import DefaultRefs, ref_problems, ref_properties
from graph.times import utc_now
from ontology.errors import Conflict, KgtwinError
from ontology.instances import validator_for
from ontology.labels import LabelIndex, label_index
from ontology.model import ModelSet
from ontology.parser import parse
from ontology.policy import DEFAULT_POLICY, DtdlPolicy
from ontology.registry import ModelRegistry
from telemetry.refs import TelemetryRef

DEFAULT_BATCH = 5000
MAX_ISSUES = 1000
MEMO_LIMIT = 4_000_000
"""Twins a run remembers having written (16 bytes each, ``graph._import_memo``); past it,
batches read which of their twins exist, and memory stays that of a batch."""
_ANY_TWIN = "MATCH (t:Twin) RETURN t.id LIMIT 1"
_MODELS_OF = "UNWIND $ids AS id MATCH (t:Twin {id: id}) RETURN t.id, t.model"
Progress = Callable[[int], None]


@dataclass
class ImportReport:
    """What an import did: counts of lines written (or that would be, in a dry run) and the refused lines.

    ``issues`` holds the first ``MAX_ISSUES`` refused lines; ``issue_count`` counts them all.
    """

    dry_run: bool = False
    models: int = 0
    twins: int = 0
    relationships: int = 0
    issues: list[BulkIssue] = field(default_factory=list)
    issue_count: int = 0
    # Relationship batches refuse lines from the writer thread (graph._import_pipeline).
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.issue_count == 0

    def refuse(self, issue: BulkIssue) -> None:
        with self._lock:
            self.issue_count += 1
            if len(self.issues) < MAX_ISSUES:
                self.issues.append(issue)

    def count_relationships(self, written: int) -> None:
        with self._lock:
            self.relationships += written


def import_bulk(
    store: GraphStore,
    stream: ByteStream,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    events: EventBus | None = None,
    policy: DtdlPolicy = DEFAULT_POLICY,
) -> ImportReport:
    """Import a bulk file read from ``stream``; ``progress`` is told the bytes read so far.

    Models are read with the service's DTDL ``policy``, as the model registry reads them.

    With ``events``, the models uploaded and the twins and relationships written are
    announced there as ``TwinGraph`` announces them, each batch once its statements returned.
    """
    store.ensure_schema()
    with _no_cycle_collection(), write_pipeline() as pipeline:
        job = _Import(store, dry_run, max(1, batch_size), events, pipeline, policy)
        for line in read_bulk(stream):
            if progress is not None:
                progress(line.offset)
            if line.issue is not None:
                job.report.refuse(line.issue)
            elif line.section is Section.MODELS:
                job.model_lines.append(line)
            elif line.section is Section.TWINS:
                job.twin(line)
            elif line.section is Section.RELATIONSHIPS:
                job.relationship(line)
        job.finish()
    return job.report


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's automatic cyclic garbage collection for the import, then collect once.

    A batch allocates hundreds of thousands of small objects that live until it is
    written, so the collector keeps scanning them (over a tenth of the import's time) and
    finds nothing: parsed JSON and rows hold no reference cycles, and reference counting
    frees each batch when it is done. Drivers do leave cycles (sessions, results), so every
    few batches end with a collection of the young generations (:func:`_collect_young`):
    memory stays bounded by a few batches.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


class _Import:
    """One import run: the models, then batches of twins per label set, then of relationships."""

    def __init__(
        self,
        store: GraphStore,
        dry_run: bool,
        batch_size: int,
        events: EventBus | None,
        pipeline: WritePipeline,
        policy: DtdlPolicy,
    ) -> None:
        self.store = store
        self.policy = policy
        self.pipeline = pipeline
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.events = events
        self.report = ImportReport(dry_run=dry_run)
        self.model_lines: list[BulkLine] = []
        self.models: ModelSet | None = None
        self.registry: ModelRegistry | None = None
        self.labels: LabelIndex | None = None
        self.pending_twins: list[PendingTwin] = []
        self.relationships: list[BulkLine] = []
        # The twins this run wrote (or, in a dry run, found valid): id -> model, up to MEMO_LIMIT.
        self.memo = TwinMemo(MEMO_LIMIT)
        # A fresh import: the graph held no twin at the start, so one not in ``memo`` is absent.
        self.fresh = not store.read(_ANY_TWIN).rows
        self.now = utc_now()
        self.checks: RelationshipChecks | None = None
        self.edges = EdgeBatchWriter(store, events, self.report.refuse, self._models_of, fresh=self.fresh)
        self.default_refs: DefaultRefs | None = None
        # Per model: why new twins may not use it (decommissioned), or None.
        self.instantiable: dict[str, str | None] = {}

    def ontology(self) -> ModelSet:
        """The registered models, once the file's Models section is uploaded (or parsed, in a dry run)."""
        if self.models is None:
            self.models = self._load_models()
            self.labels = label_index(self.models)
        return self.models

    def _load_models(self) -> ModelSet:
        model_store = GraphModelStore(self.store, events=None if self.dry_run else self.events)
        registry = self.registry = ModelRegistry(model_store, policy=self.policy)
        new: list[BulkLine] = []
        for line in self.model_lines:
            dtmi = line.value["@id"]
            stored = model_store.get(dtmi)
            if stored is None:
                new.append(line)
            elif stored.document != line.value:
                message = f"model {dtmi} is registered with another document; upload a new version instead"
                self.report.refuse(BulkIssue(line.line, "MODEL_CONFLICT", message))
        if not new:
            return registry.models
        documents = [line.value for line in new]
        try:
            if self.dry_run:
                models = registry.models.merged(parse(documents, known=registry.models, policy=self.policy))
            else:
                before = registry.models
                registry.upload(documents)
                models = registry.models
                # New models can lengthen the labels of registered ones (graph.relabel).
                relabel_twins(self.store, before, models)
        except KgtwinError as exc:
            where = ", ".join(str(line.line) for line in new)
            self.report.refuse(
                BulkIssue(new[0].line, str(exc.code), f"models of lines {where}: {exc.message}")
            )
            return registry.models
        self.report.models += len(new)
        return models

    def twin(self, line: BulkLine) -> None:
        models = self.ontology()
        value = line.value
        twin_id, model = value["$dtId"], value["$metadata"]["$model"]
        if model not in models:
            self.report.refuse(BulkIssue(line.line, "MODEL_UNKNOWN", f"model {model} is not registered"))
            return
        document = twin_document(value)
        issues = validator_for(models, model).validate_properties(document)
        if issues or not SYSTEM_KEYS.isdisjoint(document):
            refuse_all(self.report.refuse, line.line, f"twin {twin_id!r}", issues + reserved(document))
            return
        if TELEMETRY in value:
            ref = TelemetryRef.from_dict(value[TELEMETRY])
            problems = ref_problems(ref, twin_id)
            if problems:
                for path, message in problems:
                    text = f"twin {twin_id!r}: {TELEMETRY}{path}: {message}"
                    self.report.refuse(BulkIssue(line.line, "TELEMETRY_INVALID", text))
                return
            ref_props = ref_properties(ref)
        else:
            if self.default_refs is None:
                self.default_refs = DefaultRefs(models)
            ref_props = self.default_refs.properties(model, twin_id)
        self.pending_twins.append(PendingTwin(line.line, twin_id, model, document, ref_props))
        if len(self.pending_twins) >= self.batch_size:
            self._flush_twins()

    def _decommissioned(self, model: str) -> str | None:
        """Why no new twin may have ``model`` (it is decommissioned), or None."""
        if model not in self.instantiable:
            assert self.registry is not None
            self.instantiable[model] = None
            if model in self.registry.models:  # else only parsed by this dry run: new, so usable
                try:
                    self.registry.ensure_instantiable(model)
                except Conflict as exc:
                    self.instantiable[model] = exc.message
        return self.instantiable[model]

    def _flush_twins(self) -> None:
        """Refuse twins whose id is taken by a twin of another model, and new twins of
        decommissioned models, then write the rest by label set (on the writer thread).

        Twins the graph does not hold are created, the others merged (left alone when unchanged).
        """
        pending, self.pending_twins = self.pending_twins, []
        if not pending:
            return
        ids = {twin.id for twin in pending}
        existing = self._existing(ids)
        remembered = existing if self.fresh else self.memo.models_of(ids)
        batch: dict[str, str] = {}
        created: dict[tuple[str, ...], dict[str, PendingTwin]] = defaultdict(dict)
        merged: dict[tuple[str, ...], dict[str, PendingTwin]] = defaultdict(dict)
        assert self.labels is not None
        for twin in pending:
            other = existing.get(twin.id) or batch.get(twin.id) or remembered.get(twin.id)
            if other is not None and other != twin.model:
                message = f"twin {twin.id!r} has model {other}; delete it to give it model {twin.model}"
                self.report.refuse(BulkIssue(twin.line, "CONFLICT", message))
                continue
            if other is None and (why := self._decommissioned(twin.model)) is not None:
                self.report.refuse(BulkIssue(twin.line, "MODEL_DECOMMISSIONED", f"twin {twin.id!r}: {why}"))
                continue
            self.report.twins += 1
            batch[twin.id] = twin.model
            if not self.dry_run:
                # The last line of an id repeated in the batch wins, as a merge would have it.
                labels = self.labels.labels(twin.model)
                (merged if twin.id in existing else created)[labels][twin.id] = twin
        self._remember(list(batch.items()))
        if not self.dry_run and (created or merged):
            store, events, now = self.store, self.events, self.now
            prepared = prepare_twins(store, now, created, merged)  # here: the writer thread only sends
            self.pipeline.submit(lambda: write_twins(store, events, now, prepared))
        _collect_young()

    def _existing(self, ids: set[str]) -> dict[str, str]:
        """The models of those of ``ids`` the graph holds (in a dry run: or the file's valid twins)."""
        if self.fresh:
            return self.memo.models_of(ids)
        self.pipeline.drain()
        return self._models_of(ids)

    def _remember(self, twins: list[tuple[str, str]]) -> None:
        if not self.memo.add(twins):
            self.fresh = False  # a twin the run could not remember may exist: read from now on

    def relationship(self, line: BulkLine) -> None:
        if self.pending_twins:
            self._flush_twins()
        self.relationships.append(line)
        if len(self.relationships) >= self.batch_size:
            self._flush_relationships()

    def _flush_relationships(self) -> None:
        """Validate a batch against its sources' and targets' models (one read), then write it."""
        batch, self.relationships = self.relationships, []
        if not batch:
            return
        models = self.ontology()
        ids = {line.value["$dtId"] for line in batch} | {line.value["$targetId"] for line in batch}
        known = self.memo.models_of(ids)
        if len(known) < len(ids) and not self.fresh:
            self.pipeline.drain()
            known.update(self._models_of(ids - known.keys()))
        checks = self._checks(models)
        rows = [row for line in batch if (row := checks.row(line, known)) is not None]
        if self.dry_run:
            self.report.count_relationships(len(rows))
        elif rows:
            work = self.edges.stage(rows)  # here, in file order: the writer thread mostly only sends
            self.pipeline.submit(lambda: self.report.count_relationships(work()))
        _collect_young()

    def _checks(self, models: ModelSet) -> RelationshipChecks:
        if self.checks is None or self.checks.models is not models:
            self.checks = RelationshipChecks(models, self.report.refuse)
        return self.checks

    def _models_of(self, ids: set[str]) -> dict[str, str]:
        rows = self.store.read(_MODELS_OF, {"ids": sorted(ids)}, max_rows=MAX_ROWS).rows
        return {str(twin_id): str(model) for twin_id, model in rows}

    def finish(self) -> None:
        self.ontology()
        self._flush_twins()
        self._flush_relationships()
        self.pipeline.drain()


_batches = itertools.count(1)
COLLECT_EVERY = 8
"""Batches between collections: each scans the batches still queued for the writer (~10 ms)."""


def _collect_young() -> None:
    """Free the reference cycles earlier batches' statements left (see :func:`_no_cycle_collection`)."""
    if not gc.isenabled() and next(_batches) % COLLECT_EVERY == 0:
        gc.collect(1)
