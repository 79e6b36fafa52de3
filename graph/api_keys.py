"""API keys: issued once, stored hashed as ``ApiKey`` nodes of the twin graph.

The graph is the key store because it is the one thing every API process of the cloud
profile already shares and backs up, so a key made with ``kgtwin keys create`` works on
every replica and survives restarts. ``ApiKey`` is a reserved label
(``ontology.labels.RESERVED_LABELS``): no twin ever carries it.

A key reads ``kgt_<id>_<secret>``: the id names the key in logs and in ``kgtwin keys
list``, the secret is 256 random bits. Only the SHA-256 of the whole key is stored. A slow
password hash (argon2, scrypt) buys time against guessing low-entropy passwords; a
256-bit random secret cannot be guessed, and every request checks a key, so a fast hash is
the right one (as GitHub and Stripe do for their tokens). Lookup is by hash, so the secret
is never compared byte by byte.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graph.store import GraphStore
from graph.times import utc_now
from ontology.errors import BadRequest, Conflict, NotFound

KEY_PREFIX = "kgt_"
_MAX_NAME = 100

# Names are unique among keys in use, checked in the creating statement itself so two
# concurrent creations cannot both win (an aggregation answers one row even when empty).
_CREATE = """
OPTIONAL MATCH (old:ApiKey {name: $name}) WHERE old.revokedAt IS NULL
WITH count(old) AS taken
WHERE taken = 0
CREATE (k:ApiKey)
SET k = $props
RETURN k.id
"""
_FIELDS = "k.id, k.name, k.roles, k.createdAt, k.revokedAt"
_BY_HASH = f"MATCH (k:ApiKey {{hash: $hash}}) RETURN {_FIELDS}"
_LIST = f"MATCH (k:ApiKey) RETURN {_FIELDS} ORDER BY k.createdAt, k.id"
_REVOKE = f"""
MATCH (k:ApiKey) WHERE k.{{field}} = $ref AND k.revokedAt IS NULL
SET k.revokedAt = $now
RETURN {_FIELDS}
"""


@dataclass(frozen=True)
class ApiKey:
    """One API key as stored: never its secret. ``roles`` are the names the API grants (``api.roles``)."""

    id: str
    name: str
    roles: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "roles": list(self.roles),
            "createdAt": self.created_at,
            "revokedAt": self.revoked_at,
        }


@dataclass(frozen=True)
class IssuedKey:
    """A key just created, with the secret the caller sees this once and never again."""

    key: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    """The stored form of a key: hex SHA-256 of the whole ``kgt_...`` text."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiKeyStore:
    """The API keys of one twin graph."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def create(self, name: str, roles: Sequence[str]) -> IssuedKey:
        """Make a key ``name`` with ``roles``; ``Conflict`` if a key in use has that name."""
        name = name.strip()
        if not name or len(name) > _MAX_NAME:
            raise BadRequest(f"a key name is 1 to {_MAX_NAME} characters", details={"name": name})
        if not roles:
            raise BadRequest("a key needs at least one role", details={"name": name})
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id, name, tuple(str(role) for role in roles), utc_now())
        props = {
            "id": key.id,
            "name": key.name,
            "roles": list(key.roles),
            "createdAt": key.created_at,
            "hash": hash_key(secret),
        }
        if not self.store.write(_CREATE, {"name": name, "props": props}).rows:
            raise Conflict(f"a key named {name!r} is in use; revoke it first", details={"name": name})
        return IssuedKey(key, secret)

    def find(self, secret: str) -> ApiKey | None:
        """The key whose secret is ``secret`` (revoked or not), or None."""
        if not secret.startswith(KEY_PREFIX):
            return None
        rows = self.store.query_rows(_BY_HASH, {"hash": hash_key(secret)})
        return _key(rows[0]) if rows else None

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        return [_key(row) for row in self.store.query_rows(_LIST)]

    def revoke(self, ref: str) -> ApiKey:
        """Revoke the key in use with id (or else name) ``ref``; ``NotFound`` if there is none."""
        now = utc_now()
        for field in ("id", "name"):
            rows = self.store.write(_REVOKE.format(field=field), {"ref": ref, "now": now}).rows
            if rows:
                return _key(rows[0])
        raise NotFound(f"no API key in use has id or name {ref!r}", details={"key": ref})


def _key(row: Sequence[Any]) -> ApiKey:
    key_id, name, roles, created_at, revoked_at = row
    return ApiKey(
        id=str(key_id),
        name=str(name),
        roles=tuple(str(r) for r in roles or ()),
        created_at=str(created_at),
        revoked_at=None if revoked_at is None else str(revoked_at),
    )
