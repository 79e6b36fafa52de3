"""``kgtwin fmu add/list/show/delete``: FMUs for the twins' Interfaces, from the command line.

The FMU is checked (``simulation.fmu.archive``) before anything is stored; its file goes to
``KGTWIN_FMU_DIR`` and its reference node to the graph named by ``KGTWIN_GRAPH_URL``, as an
upload through ``POST /fmus`` does. Errors end with one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kgtwin.logs import configure_logging
from kgtwin.settings import load_settings
from ontology.errors import KgtwinError

if TYPE_CHECKING:
    from ontology.model import ModelSet
    from simulation.fmu.library import FmuLibrary, StoredFmu

fmu_app = typer.Typer(
    help="Manage FMUs (physics-based models of an Interface's twins).", no_args_is_help=True
)


@contextmanager
def _library() -> Iterator[tuple[FmuLibrary, Callable[[], ModelSet]]]:
    from graph.model_store import GraphModelStore
    from kgtwin.backends import open_backends
    from kgtwin.wiring import build_fmu_library
    from ontology.registry import ModelRegistry

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    backends = open_backends(settings, ["graph"])
    try:
        graph = backends.graph
        assert graph is not None
        yield build_fmu_library(settings, backends), lambda: ModelRegistry(GraphModelStore(graph)).models
    finally:
        backends.close()


def _guarded(run: Callable[[], None]) -> None:
    try:
        run()
    except KgtwinError as exc:
        typer.echo(f"kgtwin: {exc.message}", err=True)
        raise typer.Exit(2) from None


def _line(stored: StoredFmu) -> str:
    d = stored.description
    return (
        f"{stored.id}  {stored.reference.name}  FMI {d.fmi_version}  {stored.interface}  "
        f"{len(d.inputs)} inputs, {len(d.outputs)} outputs, {len(d.parameters)} parameters"
    )


@fmu_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="The .fmu archive.")],
    interface: Annotated[str, typer.Option("--for", help="The DTMI of the Interface it serves.")],
) -> None:
    """Check and store an FMU for an Interface; print its id and variables."""

    def run() -> None:
        if not file.is_file():
            raise KgtwinError(f"{file}: no such file")
        with _library() as (library, models):
            stored = library.add(file.read_bytes(), interface, name=file.name, models=models())
        typer.echo(_line(stored))
        for v in stored.description.variables:
            if v.causality in ("input", "output", "parameter"):
                unit = f" [{v.unit}]" if v.unit else ""
                typer.echo(f"  {v.causality:<9} {v.name}: {v.type}{unit} start={v.start}")

    _guarded(run)


@fmu_app.command("list")
def list_(
    interface: Annotated[str | None, typer.Option("--for", help="Only FMUs of this Interface.")] = None,
) -> None:
    """The stored FMUs, one a line."""

    def run() -> None:
        with _library() as (library, _):
            for stored in library.list(interface):
                typer.echo(_line(stored))

    _guarded(run)


@fmu_app.command("show")
def show(fmu_id: Annotated[str, typer.Argument(help="The FMU's id.")]) -> None:
    """One FMU as JSON: its reference and every variable."""

    def run() -> None:
        with _library() as (library, _):
            stored = library.get(fmu_id)
        typer.echo(json.dumps(stored.reference.to_dict(), indent=2))

    _guarded(run)


@fmu_app.command("delete")
def delete(fmu_id: Annotated[str, typer.Argument(help="The FMU's id.")]) -> None:
    """Delete an FMU (its node and its file)."""

    def run() -> None:
        with _library() as (library, _):
            library.delete(fmu_id)
        typer.echo(f"deleted {fmu_id}", err=True)

    _guarded(run)
