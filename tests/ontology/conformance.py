"""Run the official DTDL conformance cases through ``ontology.parse`` and report agreement.

Each case of ``../shared/dtdl/<version>/conformance/<Kind>-<Rule>V<n>.json`` says whether
its batch is valid (and, for some Completion cases, exactly which DTMIs are left
unresolved). ``python -m tests.ontology.conformance`` rewrites the official cases' part of
``docs/conformance.md`` from a fresh run (the part on Microsoft's parser, written from
``bench/dtdl_differential.py``, is kept); the test asserts the agreement cannot regress.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ontology import DtdlPolicy, ModelError, parse

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
# Where the part of docs/conformance.md that this module does not write begins.
DIFFERENTIAL_HEADING = "## Agreement with Microsoft's DTDLParser"
VERSIONS = ("v2", "v3", "v4")
KINDS = ("Requirement", "Allowance", "Completion", "Recommendation")


@dataclass
class Tally:
    """Agreement for one (version, kind): cases passed, cases run, and the files that disagree."""

    passed: int = 0
    total: int = 0
    failing: dict[str, int] = field(default_factory=dict)


def case_policy(case: dict[str, Any]) -> DtdlPolicy:
    """The case's parser options: whether undefined extensions are allowed, which limits are."""
    return DtdlPolicy(
        undefined_extensions="AllowUndefinedExtensions" in case.get("options", []),
        limit_extensions=frozenset(case.get("acceptableLimits", ())),
    )


def case_agrees(case: dict[str, Any]) -> bool:
    """Whether ``parse`` agrees with one case: validity, and the unresolved DTMIs when given."""
    try:
        parse(case["input"], policy=case_policy(case))
    except ModelError as exc:
        if case["valid"]:
            return False
        expected = (case.get("expect") or {}).get("unresolvedIdentifiers")
        return expected is None or set(expected) == set(exc.unresolved)
    return bool(case["valid"])


def run_suite(shared: Path = SHARED) -> dict[tuple[str, str], Tally]:
    """Agreement per (version, kind) over every case file found."""
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for version in VERSIONS:
        for path in sorted((shared / "dtdl" / version / "conformance").glob("*.json")):
            kind = path.name.split("-", 1)[0]
            tally = tallies[(version, kind)]
            for case in json.loads(path.read_text(encoding="utf-8-sig")):
                ok = case_agrees(case)
                tally.total += 1
                tally.passed += ok
                if not ok:
                    tally.failing[path.name] = tally.failing.get(path.name, 0) + 1
    return dict(tallies)


def render(tallies: dict[tuple[str, str], Tally]) -> str:
    """The Markdown of ``docs/conformance.md``."""
    lines = [
        "# DTDL conformance",
        "",
        "Agreement of `ontology.parse` with the official DTDL conformance cases in",
        "`../shared/dtdl/<version>/conformance/` (a sample of the official suite): a case agrees when",
        "the batch is accepted exactly when it is valid, and, where the case names them, the",
        "unresolved DTMIs of `ModelError.unresolved` are exactly the expected ones. A case's",
        "options (`AllowUndefinedExtensions`, `acceptableLimits`) are the `DtdlPolicy` it is parsed",
        "with.",
        "",
        "Regenerate with `python -m tests.ontology.conformance`; `tests/ontology/test_conformance.py`",
        "fails if any figure drops.",
        "",
        "| Version | Kind | Agreeing | Cases | Agreement |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for version in VERSIONS:
        for kind in KINDS:
            t = tallies.get((version, kind))
            if t is None or t.total == 0:
                continue
            lines.append(f"| {version} | {kind} | {t.passed} | {t.total} | {100 * t.passed / t.total:.1f}% |")
    failing = [(v, k, f, n) for (v, k), t in sorted(tallies.items()) for f, n in sorted(t.failing.items())]
    lines += ["", "## Cases not agreeing", ""]
    if not failing:
        lines.append("None.")
    for version, kind, name, n in failing:
        lines.append(f"- {version} {kind}: `{name}` ({n} case{'s' if n > 1 else ''})")
    lines += [
        "",
        "Recommendation cases say what a parser accepts where the specification only recommends",
        "(`desirable: false` marks an input that is accepted but discouraged, such as repeating the",
        "DTDL context); kgtwin accepts them and reports violations only, never warnings.",
        "",
        "The rules are not tuned to these files: they are read from the DTDL metamodel shipped in",
        "`ontology/dtdl_data/` (SHACL shapes: classes, properties, cardinalities, datatypes, ranges,",
        "patterns, lengths, depth and count limits; `dtmm:apocrypha` for which odd terms a version",
        "tolerates), with the rest written from the specification text and cited in the code.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    out = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
    existing = out.read_text(encoding="utf-8") if out.exists() else ""
    kept = existing[existing.index(DIFFERENTIAL_HEADING) :] if DIFFERENTIAL_HEADING in existing else ""
    out.write_text(render(run_suite()) + ("\n" + kept if kept else ""), encoding="utf-8")
    sys.stdout.write(f"wrote {out}\n")


if __name__ == "__main__":
    main()
