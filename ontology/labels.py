"""Labels: short names for Interfaces in the twin graph, and display names for people.

A graph database labels a twin node with its Interface and every Interface it extends,
so that a query for ``:Space`` finds Rooms and Buildings too. A label is the last path
segment of the DTMI (``dtmi:digitaltwins:rec_3_3:core:Room;1`` -> ``Room``); when two
Interfaces of a model set share that segment, more segments are kept from the end
(``core_Room``, ``asset_Room``) until each label is unique. All versions of one DTMI
path share a label. DTMI segments are ``[A-Za-z][A-Za-z0-9_]*`` (DTDL §DTMI), so every
label is a valid Cypher identifier without quoting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ontology.model import Content, Interface, ModelSet

_CACHE_KEY = "_labels"

# Labels the twin graph uses for its own nodes (twins, models, simulation runs). An
# Interface whose short name is one of them keeps more DTMI segments (``ex_Model``), or,
# with a single segment, gets ``_`` appended, so its twins never mix with kgtwin's nodes.
RESERVED_LABELS = frozenset({"Twin", "Model", "SimulationRun", "ApiKey"})


def _path(dtmi: str) -> list[str]:
    """The path segments of a DTMI, without scheme and version."""
    return dtmi.split(";", 1)[0].split(":")[1:]


@dataclass(frozen=True)
class LabelIndex:
    """Unique graph labels of the Interfaces of one model set, both ways."""

    by_path: Mapping[str, str]
    by_label: Mapping[str, str]
    ancestry: Mapping[str, tuple[str, ...]]

    def label(self, dtmi: str) -> str:
        """The label of Interface ``dtmi`` (any version of its path)."""
        return self.by_path[dtmi.split(";", 1)[0]]

    def labels(self, dtmi: str) -> tuple[str, ...]:
        """The labels a twin of ``dtmi`` carries: its own, then those of all it extends."""
        return self.ancestry[dtmi]

    def path_of(self, label: str) -> str | None:
        """The versionless DTMI (``dtmi:ex:Room``) that ``label`` stands for, if any."""
        return self.by_label.get(label)


def build_label_index(models: ModelSet) -> LabelIndex:
    """Assign each DTMI path the shortest unique suffix of its segments, joined by ``_``."""
    paths = sorted({d.split(";", 1)[0] for d in models})
    width = dict.fromkeys(paths, 1)
    while True:
        taken: dict[str, list[str]] = {}
        for p in paths:
            segments = _path(p)
            taken.setdefault("_".join(segments[-width[p] :]), []).append(p)
        clashes = [group for label, group in taken.items() if len(group) > 1 or label in RESERVED_LABELS]
        grown = False
        for group in clashes:
            for p in group:
                if width[p] < len(_path(p)):
                    width[p] += 1
                    grown = True
        if not clashes or not grown:
            break
    by_path = {p: _unreserved("_".join(_path(p)[-width[p] :])) for p in paths}
    ancestry = {
        dtmi: tuple(
            dict.fromkeys(by_path[a.split(";", 1)[0]] for a in (dtmi, *iface.ancestors) if _known(a, by_path))
        )
        for dtmi, iface in models.items()
    }
    return LabelIndex(by_path, {v: k for k, v in by_path.items()}, ancestry)


def _unreserved(label: str) -> str:
    return f"{label}_" if label in RESERVED_LABELS else label


def _known(dtmi: str, by_path: Mapping[str, str]) -> bool:
    return dtmi.split(";", 1)[0] in by_path


def label_index(models: ModelSet) -> LabelIndex:
    """The label index of ``models``, built on first use and cached with the model set."""
    found = models.cache.get(_CACHE_KEY)
    if not isinstance(found, LabelIndex):
        found = models.cache[_CACHE_KEY] = build_label_index(models)
    return found


def display_name(element: Interface | Content, language: str = "en") -> str:
    """The best human name of an element in ``language``.

    Tries the exact language, then any tag of the same primary language (``en-US`` for
    ``en``), then English, then any language, then the element's ``name`` (contents) or
    the last DTMI segment (Interfaces).
    """
    names = element.display_name
    if names:
        if language in names:
            return names[language]
        primary = language.split("-", 1)[0].lower()
        for tag, text in names.items():
            if tag.split("-", 1)[0].lower() == primary:
                return text
        for tag, text in names.items():
            if tag.split("-", 1)[0].lower() == "en":
                return text
        return next(iter(names.values()))
    if isinstance(element, Interface):
        return _path(element.dtmi)[-1]
    return element.name
