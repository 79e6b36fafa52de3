"""The Cypher statements of the twin operations (``graph.twins``), one per change.

Each change is one statement, so it is atomic on both engines (FalkorDB has no
multi-statement transactions); the guards that keep it safe against concurrent writers
(same model, etag compare-and-set, multiplicity under a write lock) live inside the
statement. Templates with ``{labels}`` or ``{type}`` get identifiers from the validated
model set (backticked), never input.
"""

PUT_TWIN = """
MERGE (t:Twin {{id: $id}})
WITH t, t.model AS previous, t._document AS before, coalesce(t.createdAt, $now) AS created,
    t._telemetry AS ref
WHERE previous IS NULL OR previous = $model
SET t = $props, t.createdAt = created
SET t{labels}
RETURN properties(t) AS twin, before, ref
"""
# If-Match on a replace: only an existing twin of the same model whose etag matches (compared
# under the node's write lock, as PATCH_TWIN's).
REPLACE_TWIN = """
MATCH (t:Twin {{id: $id}})
SET t._lock = true REMOVE t._lock
WITH t, t.model AS previous, t._document AS before, t.createdAt AS created, t._telemetry AS ref
WHERE previous = $model AND ($ifMatch = '*' OR t.etag = $ifMatch)
SET t = $props, t.createdAt = created
SET t{labels}
RETURN properties(t) AS twin, before, ref
"""
# If-None-Match: * (create only): the unique constraint on Twin.id refuses an id in use
# with a Conflict, and the statement writes nothing.
CREATE_TWIN = """
CREATE (t:Twin)
SET t = $props, t.createdAt = $now
SET t{labels}
RETURN properties(t) AS twin, null AS before, null AS ref
"""
# Compare-and-set on the etag: no row back means another writer got there first.
# The compare-and-set of a patch. Writing to the node first takes Neo4j's write lock on it,
# so the etag compared is the one the last committed writer left: without it two patches
# read under read-committed isolation could both match the old etag, and one be lost.
PATCH_TWIN = """
MATCH (t:Twin {id: $id})
SET t._lock = true REMOVE t._lock
WITH t, t.createdAt AS created
WHERE t.etag = $expected
SET t = $props, t.createdAt = created
RETURN properties(t) AS twin
"""
GET_TWIN = "MATCH (t:Twin {id: $id}) RETURN properties(t) AS twin"
# Answers the model and the relationships it deletes along, for the change events. The
# etag of an If-Match is compared under the node's write lock, as PATCH_TWIN's.
DELETE_TWIN = """
MATCH (t:Twin {id: $id})
SET t._lock = true REMOVE t._lock
WITH t
WHERE $ifMatch IS NULL OR $ifMatch = '*' OR t.etag = $ifMatch
OPTIONAL MATCH (t)-[r]-(:Twin)
WITH t, collect(DISTINCT CASE WHEN r IS NULL THEN null
    ELSE [r.id, type(r), startNode(r).id, endNode(r).id, startNode(r).model] END) AS links
WHERE size(links) = 0 OR $cascade
WITH t, t.model AS model, links
DETACH DELETE t
RETURN model, links
"""
# Only edges between twins are relationships; links from kgtwin's own nodes (a simulation
# run's SIMULATED) do not hold a twin back and go with it.
COUNT_LINKS = "MATCH (t:Twin {id: $id}) OPTIONAL MATCH (t)-[r]-(:Twin) RETURN count(r) AS links, t.id AS id"
# Unless the source already has maxMultiplicity other relationships of that name, replaces
# the one of the same id from the same source (whatever its name) and creates the new one;
# when refused it changes nothing. Writing to the source first takes Neo4j's write lock on
# it for the transaction, so concurrent writers count one after the other (FalkorDB runs
# write queries one at a time anyway).
PUT_RELATIONSHIP = """
MATCH (s:Twin {{id: $source}}), (t:Twin {{id: $target}})
SET s._lock = true REMOVE s._lock
WITH s, t
OPTIONAL MATCH (s)-[same:{type}]->() WHERE same.id <> $rid
WITH s, t, count(same) AS existing
WHERE $max IS NULL OR existing < $max
OPTIONAL MATCH (s)-[old {{id: $rid}}]->()
WITH s, t, old, old IS NOT NULL AS replaced
WHERE NOT ($createOnly AND replaced)
DELETE old
WITH DISTINCT s, t, replaced
CREATE (s)-[r:{type}]->(t)
SET r = $props
RETURN properties(r) AS rel, replaced
"""
COUNT_NAMED = "MATCH (s:Twin {{id: $source}})-[r:{type}]->() WHERE r.id <> $rid RETURN count(r) AS n"
# With $before (the edge's document when read): only if nobody changed it since.
DELETE_RELATIONSHIP = """
MATCH (s:Twin {id: $source})-[r {id: $rid}]->(t)
WHERE $before IS NULL OR (r._document = $before AND coalesce(r.etag, '') = $etag)
WITH s, r, type(r) AS name, t.id AS target
DELETE r
RETURN name, target, s.model AS model
"""
OUTGOING = """
MATCH (s:Twin {id: $id}) OPTIONAL MATCH (s)-[r]->(t:Twin)
RETURN type(r) AS name, properties(r) AS rel, s.id AS source, t.id AS target ORDER BY rel.id
"""
INCOMING = """
MATCH (t:Twin {id: $id}) OPTIONAL MATCH (s:Twin)-[r]->(t)
RETURN type(r) AS name, properties(r) AS rel, s.id AS source, t.id AS target ORDER BY source, rel.id
"""
# Pages of the lists above; ``{after}`` is the keyset condition on the sort key (``graph.keyset``),
# ``true`` on the first page.
OUTGOING_PAGE = """
MATCH (s:Twin {{id: $id}}) OPTIONAL MATCH (s)-[r]->(t:Twin)
WHERE ($name IS NULL OR type(r) = $name) AND {after}
RETURN type(r) AS name, properties(r) AS rel, s.id AS source, t.id AS target ORDER BY rel.id LIMIT $n
"""
INCOMING_PAGE = """
MATCH (t:Twin {{id: $id}}) OPTIONAL MATCH (s:Twin)-[r]->(t)
WHERE {after}
RETURN type(r) AS name, properties(r) AS rel, s.id AS source, t.id AS target ORDER BY source, rel.id LIMIT $n
"""
GET_RELATIONSHIP = """
MATCH (s:Twin {id: $source}) OPTIONAL MATCH (s)-[r {id: $rid}]->(t:Twin)
RETURN type(r) AS name, properties(r) AS rel, s.id AS source, t.id AS target
"""
# Compare-and-set on the edge's document and stored etag (edges of bulk imports have none).
PATCH_RELATIONSHIP = """
MATCH (s:Twin {id: $source})-[r {id: $rid}]->(t:Twin)
WHERE r._document = $before AND coalesce(r.etag, '') = $etag
SET r = $props
RETURN properties(r) AS rel, type(r) AS name, t.id AS target, s.model AS model
"""
