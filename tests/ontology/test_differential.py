"""kgtwin accepts exactly the DTDL batches Microsoft's DTDLParser accepts, on a fixed sample.

The sample is a few hundred cases of the differential corpus (real ontologies per
Interface, moved between versions and edited in every kind the corpus knows, plus
hypothesis-drawn Interfaces), the same ones on every run. ``bench/dtdl_differential.py``
runs thousands. Needs Node and the harness ``make test`` installs (``tools/dtdl-parser``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.ontology.differential.compare import Tally, compare, describe
from tests.ontology.differential.corpus import Case, build_corpus, kinds
from tests.ontology.differential.microsoft import HarnessUnavailable, MicrosoftParser

SAMPLE_SEED = 22
SAMPLE_SIZE = 300


@pytest.fixture(scope="session")
def microsoft_parser() -> Iterator[MicrosoftParser]:
    """Microsoft's DTDL parser, one Node process for the whole session."""
    try:
        parser = MicrosoftParser()
    except HarnessUnavailable as exc:
        unavailable(str(exc))
    with parser:
        yield parser


@pytest.fixture(scope="module")
def sample(shared_dir: Path) -> list[Case]:
    return build_corpus(shared_dir, seed=SAMPLE_SEED, count=SAMPLE_SIZE)


@pytest.fixture(scope="module")
def tally(sample: list[Case], microsoft_parser: MicrosoftParser) -> Tally:
    result = Tally()
    for case in sample:
        result.add(compare(microsoft_parser, case))
    return result


def test_the_sample_holds_every_kind_of_case(sample: list[Case]) -> None:
    assert len(sample) == SAMPLE_SIZE
    assert {case.kind for case in sample} == {*kinds(), "generated"}


def test_the_corpus_is_the_same_for_the_same_seed(shared_dir: Path) -> None:
    first, again = (build_corpus(shared_dir, seed=5, count=60) for _ in range(2))
    other = build_corpus(shared_dir, seed=6, count=60)
    assert [c.digest for c in again] == [c.digest for c in first]
    assert [c.digest for c in other] != [c.digest for c in first]


def test_kgtwin_accepts_exactly_what_microsofts_parser_accepts(tally: Tally) -> None:
    assert tally.cases == SAMPLE_SIZE
    assert tally.disagreements == [], "\n".join(describe(o) for o in tally.disagreements)
    # A sample where one parser's verdict is always the same would prove little.
    assert tally.both_accept >= SAMPLE_SIZE // 10
    assert tally.both_reject >= SAMPLE_SIZE // 3


def test_where_both_lack_models_they_name_the_same_ones(tally: Tally) -> None:
    assert tally.references_compared > 0
    assert tally.reference_mismatches == [], "\n".join(describe(o) for o in tally.reference_mismatches)
