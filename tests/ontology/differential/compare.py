"""Both parsers on one case, and the tally of where they agree.

Accepting or rejecting a batch is the score. Where both reject and Microsoft's parser
names the references it could not resolve (its ``ResolutionException``: nothing else was
wrong), kgtwin's ``ModelError.unresolved`` must name the same DTMIs; where it reports
violations instead, it names no references and there is nothing to compare.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ontology import IssueCode, ModelError, parse
from tests.ontology.differential.corpus import Case
from tests.ontology.differential.microsoft import MicrosoftParser, Verdict


def kgtwin_verdict(documents: Iterable[str]) -> Verdict:
    """What ``ontology.parse`` (with its default settings) says of a batch, as a :class:`Verdict`."""
    try:
        parse(list(documents))
    except ModelError as exc:
        only_references = all(e.code is IssueCode.REFERENCE_UNRESOLVED for e in exc.errors)
        kind = "Resolution" if only_references and exc.unresolved else "Parsing"
        return Verdict(False, kind, exc.unresolved, tuple(f"{e.code}: {e.message}" for e in exc.errors))
    return Verdict(True, "Accepted")


@dataclass(frozen=True)
class Outcome:
    """The two verdicts on one case."""

    case: Case
    microsoft: Verdict
    kgtwin: Verdict

    @property
    def agrees(self) -> bool:
        return self.microsoft.accepted == self.kgtwin.accepted

    @property
    def references_compared(self) -> bool:
        return (
            not self.microsoft.accepted and not self.kgtwin.accepted and self.microsoft.kind == "Resolution"
        )

    @property
    def references_agree(self) -> bool:
        return not self.references_compared or self.microsoft.unresolved == self.kgtwin.unresolved


@dataclass
class Tally:
    """Agreement over a run: counts per kind of case, and every outcome that disagrees."""

    cases: int = 0
    agreeing: int = 0
    both_accept: int = 0
    both_reject: int = 0
    references_compared: int = 0
    references_agreeing: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    agreeing_by_kind: Counter[str] = field(default_factory=Counter)
    microsoft_kinds: Counter[str] = field(default_factory=Counter)
    disagreements: list[Outcome] = field(default_factory=list)
    reference_mismatches: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        kind = outcome.case.kind
        self.cases += 1
        self.by_kind[kind] += 1
        self.microsoft_kinds[outcome.microsoft.kind] += 1
        if not outcome.agrees:
            self.disagreements.append(outcome)
            return
        self.agreeing += 1
        self.agreeing_by_kind[kind] += 1
        if outcome.kgtwin.accepted:
            self.both_accept += 1
            return
        self.both_reject += 1
        if outcome.references_compared:
            self.references_compared += 1
            if outcome.references_agree:
                self.references_agreeing += 1
            else:
                self.reference_mismatches.append(outcome)


def compare(parser: MicrosoftParser, case: Case) -> Outcome:
    return Outcome(case, parser.verdict(case.documents), kgtwin_verdict(case.documents))


def describe(outcome: Outcome, limit: int = 3) -> str:
    """A few lines a developer can act on: the case, and what each parser said."""
    lines = [f"[{outcome.case.kind}] {outcome.case.name} (digest {outcome.case.digest})"]
    for who, verdict in (("microsoft", outcome.microsoft), ("kgtwin", outcome.kgtwin)):
        said = "accepts" if verdict.accepted else f"rejects ({verdict.kind})"
        lines.append(f"  {who} {said}")
        if verdict.kind == "Resolution":
            lines.append(f"    unresolved: {sorted(verdict.unresolved)}")
        lines += [f"    {m[:240]}" for m in verdict.messages[:limit]]
    return "\n".join(lines)
