"""Realistic edits of a batch of DTDL documents, one kind per function, found by name.

Each edit changes a batch in place (the first document is the Interface under test, the
others its dependencies) and returns a short description of what it did, or None when the
batch offers nothing to edit. Choices come from the ``Random`` it is given, so a corpus
is the same for the same seed. The edits are grouped by what they touch: members of
elements (``members``), DTMIs and references between Interfaces (``references``), contexts,
co-types, units and limits (``contexts``), the feature extensions and mixed DTDL versions
(``features``), and the JSON text itself (``text``).
"""

from __future__ import annotations

from tests.ontology.differential.edits import contexts, features, members, references, text
from tests.ontology.differential.edits._base import EDITS, TEXT_EDITS, Batch

__all__ = ["EDITS", "TEXT_EDITS", "Batch", "contexts", "features", "members", "references", "text"]
