"""Reading what no twin has yet is quiet: Neo4j's "does not exist" warnings are switched off.

A twin's latest value is a property its first telemetry point writes, and a relationship
name exists once some twin holds it; until then every query that reads them would make
Neo4j send a warning notification and the driver log it (one log line per GraphQL request
in a fresh deployment). The store asks the server not to send that category.
"""

from __future__ import annotations

import logging

import pytest

from graph.neo4j import Neo4jGraphStore


@pytest.mark.neo4j
def test_reading_an_unknown_property_label_or_type_logs_no_warning(
    neo4j_store: Neo4jGraphStore, caplog: pytest.LogCaptureFixture
) -> None:
    neo4j_store.write("MATCH (n) DETACH DELETE n")
    neo4j_store.write("CREATE (:Twin {id: 'a'})")
    with caplog.at_level(logging.DEBUG, logger="neo4j.notifications"):
        rows = neo4j_store.read(
            "MATCH (t:Twin {id: 'a'}) OPTIONAL MATCH (t)-[:neverHeldRelationship]->(o:NeverUsedLabel) "
            "RETURN t.`_latest.neverWritten` AS latest, o"
        ).rows
        # The same store still reports what is worth a warning: a Cartesian product.
        neo4j_store.read("MATCH (a:Twin), (b:Twin) RETURN count(*) AS n")
    assert rows == [[None, None]]
    notes = [r.getMessage() for r in caplog.records if r.name == "neo4j.notifications"]
    assert not [n for n in notes if "does not exist" in n], notes
    assert [n for n in notes if "cartesian" in n.lower()], notes
