"""Benchmark the ontology package: parse the RealEstateCore corpora, validate twin documents.

Run ``python bench/ontology.py``; prints a table (median of several runs). Targets from the
ontology issue: the whole RealEstateCore corpus parses and validates in under 1 s, and
property documents of a 20-property Interface validate at >= 50,000 per second.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# This script is itself named ontology.py: put the repository first on the path so that
# ``import ontology`` finds the package, not this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ontology import parse, validator_for

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPORA = ("building", "energygrid", "smartcities")
RUNS = 7


def median_seconds(run: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def corpus_texts(name: str) -> list[str]:
    files = sorted((SHARED / "ontologies" / name / "Ontology").rglob("*.json"))
    return [f.read_text(encoding="utf-8-sig") for f in files]


def twenty_property_model() -> tuple[Any, dict[str, Any]]:
    kinds = ["double", "integer", "string", "boolean", "dateTime", "long", "float", "date", "duration"]
    samples = {
        "double": 1.5,
        "integer": 3,
        "string": "s",
        "boolean": True,
        "dateTime": "2024-01-02T03:04:05Z",
        "long": 12,
        "float": 2.5,
        "date": "2024-02-29",
        "duration": "PT5M",
    }
    contents: list[dict[str, Any]] = [
        {"@type": "Property", "name": f"p{i}", "schema": kinds[i % len(kinds)]} for i in range(18)
    ]
    contents.append(
        {
            "@type": "Property",
            "name": "mode",
            "schema": {
                "@type": "Enum",
                "valueSchema": "string",
                "enumValues": [
                    {"name": "auto", "enumValue": "auto"},
                    {"name": "manual", "enumValue": "manual"},
                ],
            },
        }
    )
    contents.append(
        {
            "@type": "Property",
            "name": "position",
            "schema": {
                "@type": "Object",
                "fields": [{"name": "x", "schema": "double"}, {"name": "y", "schema": "double"}],
            },
        }
    )
    models = parse(
        [
            {
                "@context": "dtmi:dtdl:context;3",
                "@id": "dtmi:bench:Twin;1",
                "@type": "Interface",
                "contents": contents,
            }
        ]
    )
    doc: dict[str, Any] = {f"p{i}": samples[kinds[i % len(kinds)]] for i in range(18)}
    doc.update(mode="auto", position={"x": 1.0, "y": 2.0})
    return models, doc


def main() -> None:
    table = Table(title="ontology benchmarks (median of 7 runs)")
    for column in ("benchmark", "size", "median", "rate", "target"):
        table.add_column(column, justify="right" if column != "benchmark" else "left")
    all_texts: list[str] = []
    if SHARED.is_dir():
        for name in CORPORA:
            texts = corpus_texts(name)
            all_texts += texts
            t = median_seconds(partial(parse, texts))
            table.add_row(
                f"parse {name}",
                f"{len(texts)} files",
                f"{t * 1000:.0f} ms",
                f"{len(texts) / t:,.0f} files/s",
                "",
            )
        t = median_seconds(lambda: [parse(corpus_texts(n)) for n in CORPORA])
        table.add_row(
            "parse RealEstateCore (all three, incl. reading)",
            f"{len(all_texts)} files",
            f"{t * 1000:.0f} ms",
            f"{len(all_texts) / t:,.0f} files/s",
            "< 1 s",
        )
    else:
        table.add_row("parse RealEstateCore", "skipped", f"{SHARED} not found", "", "< 1 s")
    models, doc = twenty_property_model()
    validator = validator_for(models, "dtmi:bench:Twin;1")
    n = 100_000
    t = median_seconds(lambda: [validator.validate_properties(doc) for _ in range(n)], runs=5)
    table.add_row(
        "validate twin properties (20 properties)",
        f"{n:,} docs",
        f"{t * 1000:.0f} ms",
        f"{n / t:,.0f} docs/s",
        ">= 50,000/s",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
