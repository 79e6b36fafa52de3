"""Differential run: kgtwin's DTDL parser against Microsoft's DTDLParser on thousands of cases.

Run ``python bench/dtdl_differential.py [--seed 7] [--count 5000]`` after ``make test`` (or
``bash tools/dtdl-parser/install.sh``) has installed the parser harness. Prints the
parser versions, the agreement on accept/reject overall and per kind of case, how often
the unresolved references agree where both reject for missing models, and every case
that disagrees (its name says where it came from and what was edited), with both verdicts.
Exits 1 if any case disagrees. Needs ``../shared/ontologies`` beside the checkout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ontology.differential.compare import Tally, compare, describe
from tests.ontology.differential.corpus import build_corpus
from tests.ontology.differential.microsoft import HarnessUnavailable, MicrosoftParser

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def report(tally: Tally, parser: MicrosoftParser, seed: int, seconds: float, console: Console) -> None:
    console.print(
        f"Microsoft: {parser.parser_version} (npm @digicatapult/dtdl-parser {parser.package_version})"
    )
    console.print(f"corpus: seed {seed}, {tally.cases} cases, {seconds:.0f} s")
    kinds = Table(title="Agreement on accept/reject, per kind of case")
    for column in ("kind", "cases", "agreeing", "agreement"):
        kinds.add_column(column, justify="left" if column == "kind" else "right")
    for kind in sorted(tally.by_kind):
        total, agreeing = tally.by_kind[kind], tally.agreeing_by_kind[kind]
        kinds.add_row(kind, str(total), str(agreeing), _percent(agreeing, total))
    kinds.add_section()
    kinds.add_row("all", str(tally.cases), str(tally.agreeing), _percent(tally.agreeing, tally.cases))
    console.print(kinds)
    console.print(
        f"both accept {tally.both_accept}, both reject {tally.both_reject}; "
        f"Microsoft's verdicts: {dict(sorted(tally.microsoft_kinds.items()))}"
    )
    console.print(
        f"both reject for missing models only: {tally.references_compared}, "
        f"same unresolved DTMIs in {tally.references_agreeing} "
        f"({_percent(tally.references_agreeing, tally.references_compared)})"
    )
    for title, outcomes in (
        ("Disagreements", tally.disagreements),
        ("Unresolved references that differ", tally.reference_mismatches),
    ):
        console.print(f"\n{title}: {len(outcomes)}")
        for outcome in outcomes:
            console.print(describe(outcome), markup=False, highlight=False)


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--seed", type=int, default=7)
    args.add_argument("--count", type=int, default=5000)
    args.add_argument("--no-whole", action="store_true", help="leave out the whole ontologies")
    opts = args.parse_args()
    console = Console()
    if not (SHARED / "ontologies").is_dir():
        console.print(f"no ontologies at {SHARED / 'ontologies'}")
        return 2
    try:
        parser = MicrosoftParser()
    except HarnessUnavailable as exc:
        console.print(str(exc))
        return 2
    start = time.perf_counter()
    cases = build_corpus(SHARED, seed=opts.seed, count=opts.count, whole=not opts.no_whole)
    tally = Tally()
    with parser:
        for case in cases:
            tally.add(compare(parser, case))
    report(tally, parser, opts.seed, time.perf_counter() - start, console)
    return 1 if tally.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
