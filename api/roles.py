"""Who may do what: roles, the permissions they grant, and the check every resolver makes.

Roles (issue 8): viewer reads twins, models and telemetry; operator adds writing twins and
relationships and starting simulations; analyst adds read-only Cypher of twins and models;
modeler adds model editing; admin may do everything, Cypher of kgtwin's own nodes included.
How a caller proves who they are (API key, bearer token, or the unauthenticated loopback
edge profile) lives in ``api.auth``; this module only answers "may this principal do that".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ontology.errors import BadRequest, ErrorCode, KgtwinError


class Permission(StrEnum):
    """One kind of action guarded by a role check."""

    READ = "read"
    WRITE_TWINS = "write_twins"
    SIMULATE = "simulate"
    CYPHER = "cypher"
    CYPHER_INTERNALS = "cypher_internals"
    """Cypher that may see kgtwin's own nodes (API keys, version tokens): ``graph.visibility``."""
    MODELS = "models"
    ADMIN = "admin"


class Role(StrEnum):
    """A named set of permissions given to an API key or a token's subject."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ANALYST = "analyst"
    MODELER = "modeler"
    ADMIN = "admin"


def parse_roles(names: Iterable[str]) -> tuple[Role, ...]:
    """Role names as given on a command line or in a token; ``BadRequest`` names an unknown one."""
    roles: list[Role] = []
    for name in names:
        try:
            roles.append(Role(name.strip().lower()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise BadRequest(f"unknown role {name!r}: one of {known}", details={"role": name}) from None
    return tuple(dict.fromkeys(roles))


def known_roles(names: Iterable[str]) -> frozenset[Role]:
    """The roles among stored role names; a name no role has (renamed in a later release) is dropped
    rather than failing every request of its key."""
    known = {r.value for r in Role}
    return frozenset(Role(name) for name in names if name in known)


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.WRITE_TWINS, Permission.SIMULATE}),
    Role.ANALYST: frozenset({Permission.READ, Permission.CYPHER}),
    Role.MODELER: frozenset({Permission.READ, Permission.MODELS}),
    Role.ADMIN: frozenset(Permission),
}


class Forbidden(KgtwinError):
    """Raised when an authenticated caller's roles do not grant the action."""

    code = ErrorCode.FORBIDDEN


class Unauthenticated(KgtwinError):
    """Raised when a request carries no valid credentials and the profile requires them."""

    code = ErrorCode.UNAUTHENTICATED


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a name for logs and rate limits, and its roles."""

    name: str
    roles: frozenset[Role]

    @property
    def permissions(self) -> frozenset[Permission]:
        granted: set[Permission] = set()
        for role in self.roles:
            granted |= GRANTS[role]
        return frozenset(granted)

    def require(self, permission: Permission) -> None:
        """Raise ``Forbidden`` unless one of the principal's roles grants ``permission``."""
        if permission not in self.permissions:
            raise Forbidden(
                f"{self.name} may not {permission.value.replace('_', ' ')}: "
                f"roles {sorted(r.value for r in self.roles) or 'none'} do not grant it",
                details={"permission": permission.value, "roles": sorted(r.value for r in self.roles)},
            )


# The edge profile bound to loopback runs without auth: its one caller may do everything.
LOCAL_ADMIN = Principal(name="local", roles=frozenset({Role.ADMIN}))

# The caller of a public path (health probes, the GraphiQL page) when auth is on: no role,
# so a resolver that is reached anyway grants nothing.
ANONYMOUS = Principal(name="anonymous", roles=frozenset())
