"""The ``kgtwin`` command line: services, bulk commands and the modelers' tools.

Edge profile: ``kgtwin serve`` runs the API, ingest and the simulation worker in one
process. Microservices profile: ``kgtwin api``, ``kgtwin ingest`` and ``kgtwin worker``
run one service each. Errors users can fix (a bad setting, an unreachable backend) end
with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Annotated, NoReturn

import structlog
import typer

from kgtwin import __version__
from kgtwin.fmu import fmu_app
from kgtwin.keys import keys_app
from kgtwin.logs import configure_logging
from kgtwin.settings import Settings, load_settings
from ontology import validate_files
from ontology.errors import KgtwinError

EXIT_USAGE = 2

app = typer.Typer(
    name="kgtwin",
    help="kgtwin: a knowledge-graph digital twin (DTDL ontology, twin graph, telemetry, simulation).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="Work with DTDL models (for modelers).", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(fmu_app, name="fmu")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """End the command with one line on stderr."""
    typer.echo(f"kgtwin: {message}", err=True)
    raise typer.Exit(code)


def user_errors[**P, R](command: Callable[P, R]) -> Callable[P, R]:
    """Turn kgtwin's own errors into one line on stderr and exit code 2."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except KgtwinError as exc:
            fail(exc.message)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return run


def _settings(**overrides: object) -> Settings:
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, settings.log_format)
    return settings


HostOption = Annotated[
    str | None, typer.Option(help="Address to listen on (default from settings: 127.0.0.1).")
]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (default from settings: 8000).")]


@app.command()
@user_errors
def serve(
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo twin before serving.")] = False,
    host: HostOption = None,
    port: PortOption = None,
    uplink: Annotated[
        str | None,
        typer.Option(help="The cloud's MQTT broker to forward the site to (mqtt://user:pass@host:1883)."),
    ] = None,
    site: Annotated[
        str | None, typer.Option(help="The site twin this edge owns and forwards (with --uplink).")
    ] = None,
) -> None:
    """Run the whole twin in one process (edge profile): API + ingest + simulation worker."""
    from kgtwin.services import run_api

    settings = _settings(host=host, port=port, uplink_url=uplink, uplink_site=site)
    run_api(settings, ports=("graph", "telemetry", "broker"), profile="edge", demo=demo)


@app.command()
@user_errors
def api(
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes serving the port (default from settings: 1)."),
    ] = None,
    fd: Annotated[
        int | None, typer.Option(hidden=True, help="A listening socket inherited from the supervisor.")
    ] = None,
) -> None:
    """Run the API service only (microservices profile); SIGTERM drains and exits 0."""
    from kgtwin.services import run_api

    settings = _settings(host=host, port=port, api_workers=workers)
    if fd is None and settings.api_workers > 1:
        from kgtwin.workers import supervise

        raise typer.Exit(supervise(settings))
    run_api(settings, ports=("graph", "telemetry", "broker"), profile="api", demo=False, fd=fd)


@app.command()
@user_errors
def ingest() -> None:
    """Run the MQTT ingest service only (microservices profile); SIGTERM drains and exits 0."""
    from kgtwin.ingest_service import run_ingest

    run_ingest(_settings())


@app.command()
@user_errors
def worker() -> None:
    """Run a simulation worker only (microservices profile); SIGTERM requeues its run and exits 0."""
    from kgtwin.services import run_worker

    run_worker(_settings())


@app.command("uplink-receiver")
@user_errors
def uplink_receiver() -> None:
    """Run the cloud's receiver of edge sites' streams (graph changes, telemetry, resyncs)."""
    from kgtwin.uplink import run_receiver

    run_receiver(_settings())


@app.command("import")
@user_errors
def import_(
    file: Annotated[Path, typer.Argument(help="An NDJSON bulk file (models, twins, relationships).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate every line and write nothing.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Lines written per statement.")] = 5000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    adt: Annotated[
        bool,
        typer.Option("--adt", help="An Azure Digital Twins import file: drop its metadata and etags."),
    ] = False,
) -> None:
    """Import models, twins and relationships from a bulk NDJSON file (see docs/bulk-format.md).

    Valid lines are written (re-running is harmless: twins and relationships are merged);
    each invalid line is printed as `line N: code: message` and the exit code is 1.
    """
    from graph.adt_bulk import AdtImportStream
    from graph.bulk import ByteStream
    from graph.importer import import_bulk
    from kgtwin.backends import open_backends

    if not file.is_file():
        fail(f"{file}: no such file")
    settings = _settings()
    backends = open_backends(settings, ["graph"])
    try:
        assert backends.graph is not None
        with file.open("rb") as stream, _progress(quiet, "importing", file.stat().st_size) as advance:
            source: ByteStream = AdtImportStream(stream) if adt else stream
            report = import_bulk(
                backends.graph,
                source,
                dry_run=dry_run,
                batch_size=batch_size,
                progress=advance,
                policy=settings.dtdl_policy,
            )
    finally:
        backends.close()
    for issue in report.issues:
        typer.echo(str(issue))
    if report.issue_count > len(report.issues):
        typer.echo(f"... and {report.issue_count - len(report.issues)} more invalid line(s)")
    verb = "would import" if dry_run else "imported"
    typer.echo(
        f"{verb} {report.models} model(s), {report.twins} twin(s), {report.relationships} relationship(s); "
        f"{report.issue_count} invalid line(s)",
        err=True,
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@user_errors
def export(
    file: Annotated[Path | None, typer.Argument(help="Where to write NDJSON (default: stdout).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Export models, twins and relationships as bulk NDJSON (the format `kgtwin import` reads)."""
    from graph.exporter import export_bulk
    from kgtwin.backends import open_backends

    settings = _settings()
    backends = open_backends(settings, ["graph"])
    try:
        assert backends.graph is not None
        with _progress(quiet, "exporting", None) as advance:
            if file is None:
                lines = export_bulk(backends.graph, sys.stdout, progress=advance, policy=settings.dtdl_policy)
            else:
                with file.open("w", encoding="utf-8") as out:
                    lines = export_bulk(backends.graph, out, progress=advance, policy=settings.dtdl_policy)
    finally:
        backends.close()
    typer.echo(f"exported {lines} line(s)", err=True)


@contextmanager
def _progress(quiet: bool, what: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr (bytes of a known total, or a count), unless quiet or not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)


@app.command()
@user_errors
def demo() -> None:
    """Load the demo twin (a campus with HVAC and a production line) into the configured graph.

    Loading it again changes nothing. `kgtwin serve --demo` does the same and also starts
    simulated devices that publish the demo's telemetry over MQTT.
    """
    from kgtwin.backends import open_backends
    from kgtwin.demo import load_demo

    backends = open_backends(_settings(), ["graph"])
    try:
        assert backends.graph is not None
        report = load_demo(backends.graph)
    finally:
        backends.close()
    for issue in report.issues:
        typer.echo(str(issue))
    typer.echo(
        f"demo: {report.models} model(s), {report.twins} twin(s), {report.relationships} relationship(s) "
        "loaded; try `kgtwin serve` and GraphiQL at /graphql",
        err=True,
    )
    if not report.ok:
        raise typer.Exit(1)


@models_app.command("validate")
@user_errors
def models_validate(
    paths: Annotated[list[Path], typer.Argument(help="DTDL .json files or folders of them.")],
    as_json: Annotated[bool, typer.Option("--json", help='Print {"valid": bool, "errors": [...]}.')] = False,
    allow_undefined_extensions: Annotated[
        bool | None,
        typer.Option(
            "--allow-undefined-extensions/--reject-undefined-extensions",
            help="Tolerate, or refuse, extension contexts the validator does not know. Default: the "
            "KGTWIN_DTDL_UNDEFINED_EXTENSIONS setting, which tolerates them in v2 models and refuses "
            "them in v3 and v4, as the DTDL specification recommends.",
            show_default=False,
        ),
    ] = None,
    limit_extension: Annotated[
        list[str] | None,
        typer.Option(help="Accept this limit extension (dtmi:dtdl:limits:onvif); repeat for more."),
    ] = None,
    later_extension: Annotated[
        list[str] | None,
        typer.Option(
            help="Recognize this extension, unknown to DTDLParser 1.1.3 (dtmi:dtdl:extension:mqtt;3)."
        ),
    ] = None,
) -> None:
    """Validate DTDL files together; print each error as file:path: code: message (exit 1 if any).

    Where DTDL leaves the choice to the service, the files are read as the service reads
    them (``KGTWIN_DTDL_*`` settings, docs/conformance.md); the options override that.
    """
    policy = _settings().dtdl_policy
    try:
        policy = replace(
            policy,
            undefined_extensions=policy.undefined_extensions
            if allow_undefined_extensions is None
            else allow_undefined_extensions,
            limit_extensions=frozenset(limit_extension) if limit_extension else policy.limit_extensions,
            later_extensions=frozenset(later_extension) if later_extension else policy.later_extensions,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    report = validate_files(paths, policy=policy)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for line in report.lines():
            typer.echo(line)
        verdict = "valid" if report.valid else f"{len(report.errors)} error(s)"
        typer.echo(
            f"{len(report.files)} file(s), {len(report.models)} interface(s) valid; {verdict}", err=True
        )
    if not report.valid:
        raise typer.Exit(1)


@app.command()
def version() -> None:
    """Print the kgtwin version."""
    typer.echo(__version__)


def main() -> None:
    """Console entry point (``kgtwin``)."""
    try:
        app()
    except Exception as exc:  # the last guard: users get one line, the log gets the details
        structlog.get_logger("kgtwin").exception("cli.crashed")
        typer.echo(f"kgtwin: unexpected error: {exc}", err=True)
        sys.exit(1)
