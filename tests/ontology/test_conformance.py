"""The parser agrees with the official DTDL conformance cases, and the agreement cannot drop."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ontology.conformance import KINDS, VERSIONS, run_suite

# Agreement reached (cases agreeing, cases run) per version and kind: docs/conformance.md.
REACHED = {
    ("v2", "Requirement"): (3073, 3073),
    ("v2", "Allowance"): (141, 141),
    ("v2", "Completion"): (49, 49),
    ("v2", "Recommendation"): (168, 168),
    ("v3", "Requirement"): (3199, 3199),
    ("v3", "Allowance"): (72, 72),
    ("v3", "Completion"): (107, 107),
    ("v3", "Recommendation"): (149, 149),
    ("v4", "Requirement"): (3271, 3271),
    ("v4", "Allowance"): (89, 89),
    ("v4", "Completion"): (87, 87),
    ("v4", "Recommendation"): (163, 163),
}


@pytest.fixture(scope="module")
def tallies(shared_dir: Path) -> dict[tuple[str, str], object]:
    return run_suite(shared_dir)  # type: ignore[return-value]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_conformance_agreement_does_not_regress(tallies: dict, version: str, kind: str) -> None:
    tally = tallies[(version, kind)]
    passed, total = REACHED[(version, kind)]
    assert tally.total == total, "the conformance sample changed: regenerate docs/conformance.md"
    assert tally.passed >= passed, f"{version} {kind}: failing files {tally.failing}"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_case_agrees(tallies: dict, version: str, kind: str) -> None:
    assert tallies[(version, kind)].failing == {}
