"""``kgtwin keys create/list/revoke``: API keys, kept hashed in the twin graph (``graph.api_keys``).

The keys live in the graph named by ``KGTWIN_GRAPH_URL``, so a key made here works on
every API process that serves that graph. The secret is printed once, on stdout alone (so
``KEY=$(kgtwin keys create ci --role viewer)`` captures it), and never stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from kgtwin.logs import configure_logging
from kgtwin.settings import load_settings
from ontology.errors import KgtwinError

if TYPE_CHECKING:
    from graph.api_keys import ApiKeyStore

keys_app = typer.Typer(help="Manage API keys (stored hashed in the twin graph).", no_args_is_help=True)


@contextmanager
def _key_store() -> Iterator[ApiKeyStore]:
    from graph.api_keys import ApiKeyStore
    from kgtwin.backends import open_backends

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    backends = open_backends(settings, ["graph"])
    try:
        assert backends.graph is not None
        yield ApiKeyStore(backends.graph)
    finally:
        backends.close()


def _guarded(run: Callable[[], None]) -> None:
    """Run a command body; kgtwin's own errors end it with one line on stderr and exit 2."""
    try:
        run()
    except KgtwinError as exc:
        typer.echo(f"kgtwin: {exc.message}", err=True)
        raise typer.Exit(2) from None


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. ci-pipeline.")],
    role: Annotated[
        list[str],
        typer.Option("--role", "-r", help="viewer, operator, analyst, modeler or admin (repeatable)."),
    ],
) -> None:
    """Create a key; its secret is printed once, on stdout."""

    def run() -> None:
        from api.roles import parse_roles

        roles = parse_roles(r for value in role for r in value.split(","))
        with _key_store() as keys:
            issued = keys.create(name, roles)
        typer.echo(issued.secret)
        typer.echo(
            f"created key {issued.key.id} ({issued.key.name}) with roles "
            f"{', '.join(issued.key.roles)}; the secret above is shown only now",
            err=True,
        )

    _guarded(run)


@keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List every key (never a secret): id, name, roles, created, revoked."""

    def run() -> None:
        with _key_store() as keys:
            found = keys.list()
        if as_json:
            typer.echo(json.dumps([k.to_dict() for k in found], indent=2))
            return
        for key in found:
            state = f"revoked {key.revoked_at}" if key.revoked else "active"
            roles = ",".join(key.roles)
            typer.echo(f"{key.id}  {key.name}  {roles}  created {key.created_at}  {state}")
        typer.echo(f"{len(found)} key(s)", err=True)

    _guarded(run)


@keys_app.command("revoke")
def revoke(key: Annotated[str, typer.Argument(help="The id or name of a key in use.")]) -> None:
    """Revoke a key: every API process refuses it within the key cache time (10 s)."""

    def run() -> None:
        with _key_store() as keys:
            revoked = keys.revoke(key)
        typer.echo(f"revoked key {revoked.id} ({revoked.name}) at {revoked.revoked_at}", err=True)

    _guarded(run)
