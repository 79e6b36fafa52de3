"""API keys: stored hashed in the graph, shown once, listed without secrets, revoked by id or name."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from api.roles import Role, parse_roles
from graph.api_keys import ApiKeyStore
from graph.store import GraphStore
from ontology.errors import BadRequest, Conflict, NotFound
from tests.foundation.conftest import KGTWIN

pytest_plugins = ["tests.api.conftest_auth"]


def test_a_key_is_stored_as_its_sha256_only(auth_any_graph: GraphStore) -> None:
    issued = ApiKeyStore(auth_any_graph).create("ci", [Role.VIEWER, Role.ANALYST])
    assert issued.secret.startswith(f"kgt_{issued.key.id}_")
    assert len(issued.secret) > 40
    stored = auth_any_graph.read("MATCH (k:ApiKey) RETURN properties(k) AS k").rows[0][0]
    assert stored["hash"] == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in json.dumps(stored)
    assert stored["roles"] == ["viewer", "analyst"]


def test_a_key_is_found_by_its_secret_only(auth_any_graph: GraphStore) -> None:
    store = ApiKeyStore(auth_any_graph)
    issued = store.create("ci", [Role.VIEWER])
    assert store.find(issued.secret) == issued.key
    assert store.find(issued.secret[:-1]) is None
    assert store.find("not-a-key") is None


def test_keys_survive_a_new_store_on_the_same_graph(auth_any_graph: GraphStore) -> None:
    issued = ApiKeyStore(auth_any_graph).create("ci", [Role.OPERATOR])
    assert ApiKeyStore(auth_any_graph).find(issued.secret) == issued.key


def test_a_name_in_use_is_a_conflict_until_revoked(auth_any_graph: GraphStore) -> None:
    store = ApiKeyStore(auth_any_graph)
    first = store.create("ci", [Role.VIEWER])
    with pytest.raises(Conflict):
        store.create("ci", [Role.ADMIN])
    revoked = store.revoke("ci")
    assert revoked.id == first.key.id
    assert revoked.revoked
    second = store.create("ci", [Role.ADMIN])
    assert {k.id: k.revoked for k in store.list()} == {first.key.id: True, second.key.id: False}
    assert store.find(second.secret) == second.key


def test_revoke_by_id_and_unknown_keys(auth_any_graph: GraphStore) -> None:
    store = ApiKeyStore(auth_any_graph)
    issued = store.create("ci", [Role.VIEWER])
    assert store.revoke(issued.key.id).revoked_at is not None
    with pytest.raises(NotFound):
        store.revoke(issued.key.id)  # already revoked
    with pytest.raises(NotFound):
        store.revoke("nobody")


def test_roles_and_names_are_checked(auth_any_graph: GraphStore) -> None:
    store = ApiKeyStore(auth_any_graph)
    assert parse_roles(["Viewer", "admin", "viewer"]) == (Role.VIEWER, Role.ADMIN)
    with pytest.raises(BadRequest, match="unknown role 'root'"):
        parse_roles(["root"])
    with pytest.raises(BadRequest):
        store.create("", [Role.VIEWER])
    with pytest.raises(BadRequest):
        store.create("nobody", [])


def test_the_api_key_label_is_reserved() -> None:
    from ontology.labels import RESERVED_LABELS

    assert "ApiKey" in RESERVED_LABELS


def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env |= {"KGTWIN_GRAPH_URL": "falkordb:///data", "KGTWIN_LOG_LEVEL": "warning"}

    def kgtwin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KGTWIN, "keys", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    created = kgtwin("create", "ci-pipeline", "--role", "viewer", "--role", "analyst")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("kgt_")
    assert "shown only now" in created.stderr

    listed = kgtwin("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout
    [key] = json.loads(listed.stdout)
    assert key["name"] == "ci-pipeline"
    assert key["roles"] == ["viewer", "analyst"]
    assert key["revokedAt"] is None

    revoked = kgtwin("revoke", "ci-pipeline")
    assert revoked.returncode == 0, revoked.stderr
    again = kgtwin("revoke", "ci-pipeline")
    assert again.returncode == 2
    assert again.stderr.strip() == "kgtwin: no API key in use has id or name 'ci-pipeline'"
    lines = kgtwin("list").stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(key["id"])
    assert "revoked" in lines[0]

    bad_role = kgtwin("create", "x", "--role", "root")
    assert bad_role.returncode == 2
    assert "unknown role 'root'" in bad_role.stderr
