"""One running FMU instance, and the unpacked FMUs of this process.

:class:`FmuInstance` is the only place kgtwin calls fmpy's FMI 2 and FMI 3 co-simulation
classes, so the rest of the code speaks of inputs, outputs and steps, not of FMI
versions. Setting and reading reals is the hot path of a co-simulation (a 1,000-twin
day at a one-minute step is 1.4 million steps): fmpy's ``setReal``/``getReal`` build two
ctypes arrays per call, so an instance builds its value-reference and value arrays once
and calls the FMI functions on them directly (fmpy's wrappers still check each status).
``tests/simulation/test_fmu_master.py`` checks this path answers what fmpy's plain
``setReal``/``getReal`` answer.

FMUs are unpacked once per process and content (:func:`unpacked`), into a folder named
by the SHA-256, renamed into place so concurrent processes never see half an FMU; an FMU
carrying only sources is compiled there by fmpy.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ontology.errors import KgtwinError
from simulation.fmu.archive import FmuDescription, FmuVariable

_UNPACK_LOCK = threading.Lock()


class FmuFailed(KgtwinError):
    """Raised when an FMU refuses a call (instantiate, initialise, set, step): the FMU's own error."""


def unpack_root() -> Path:
    """Where this machine keeps unpacked FMUs: a folder of the user's temporary directory."""
    return Path(tempfile.gettempdir()) / f"kgtwin-fmus-{os.getuid()}"


def unpacked(path: Path, sha256: str, description: FmuDescription) -> Path:
    """The folder the FMU at ``path`` is unpacked in (unpacked now if it is not yet)."""
    target = unpack_root() / sha256
    if (target / "modelDescription.xml").is_file():
        return target
    with _UNPACK_LOCK:
        if (target / "modelDescription.xml").is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{sha256[:12]}-"))
        try:
            with zipfile.ZipFile(path) as archive:
                archive.extractall(staging)
            if description.needs_build:
                from fmpy.build import build_platform_binary

                build_platform_binary(staging)
            try:
                staging.rename(target)
            except OSError:  # another process was quicker: its copy is as good
                shutil.rmtree(staging, ignore_errors=True)
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise FmuFailed(
                f"FMU {description.model_name} could not be unpacked: {exc}", details={"sha256": sha256}
            ) from exc
    return target


class FmuInstance:
    """One instance of a co-simulation FMU, stepped by the master.

    ``name`` is the instance name the FMU sees (the twin id). Values are set and read by
    variable; reals go through arrays built once (see the module docstring).
    """

    def __init__(self, description: FmuDescription, folder: Path, name: str) -> None:
        self.description = description
        self.name = name
        self._v3 = description.fmi_version.startswith("3.")
        kwargs: dict[str, Any] = {
            "guid": description.guid,
            "unzipDirectory": str(folder),
            "modelIdentifier": description.model_identifier,
            "instanceName": name,
        }
        cwd = os.getcwd()  # fmpy changes directory to the binary's folder while loading it
        try:
            if self._v3:
                from fmpy.fmi3 import FMU3Slave

                self._fmu: Any = FMU3Slave(**kwargs)
            else:
                from fmpy.fmi2 import FMU2Slave

                self._fmu = FMU2Slave(**kwargs)
            self._fmu.instantiate()
        except Exception as exc:
            raise FmuFailed(
                f"FMU {description.model_name} could not be instantiated for {name!r}: {exc}",
                details={"twin": name},
            ) from exc
        finally:
            os.chdir(cwd)
        self._time = 0.0
        self._initialised = False

    def start(self, time: float, parameters: Sequence[tuple[FmuVariable, Any]]) -> None:
        """Enter initialisation at ``time``, set parameters and start inputs, and leave it."""
        try:
            if self._v3:
                self._fmu.enterInitializationMode(startTime=time)
            else:
                self._fmu.setupExperiment(startTime=time)
                self._fmu.enterInitializationMode()
            self.set_values(parameters)
            self._fmu.exitInitializationMode()
        except KgtwinError:
            raise
        except Exception as exc:
            raise self._failed("initialisation", exc) from exc
        self._time = time
        self._initialised = True
        if not self._v3:  # the FMI 2 call itself (fmpy's wrapper still checks the status)
            self._do_step = partial(self._fmu.fmi2DoStep, self._fmu.component)

    def set_values(self, values: Sequence[tuple[FmuVariable, Any]]) -> None:
        """Set variables of any kind, one FMI call per kind."""
        by_kind: dict[str, tuple[list[int], list[Any]]] = {}
        for variable, value in values:
            refs, found = by_kind.setdefault(variable.kind, ([], []))
            refs.append(variable.value_reference)
            found.append(value)
        try:
            for kind, (refs, found) in by_kind.items():
                if kind == "real":
                    (self._fmu.setFloat64 if self._v3 else self._fmu.setReal)(refs, [float(v) for v in found])
                elif kind == "integer":
                    (self._fmu.setInt32 if self._v3 else self._fmu.setInteger)(refs, [int(v) for v in found])
                elif kind == "boolean":
                    self._fmu.setBoolean(refs, [bool(v) for v in found])
                elif kind == "string":
                    self._fmu.setString(refs, [str(v).encode() for v in found])
        except Exception as exc:
            raise self._failed("setting values", exc) from exc

    def real_port(self, variables: Sequence[FmuVariable]) -> RealPort:
        """Reals to set or read again and again, through arrays built once."""
        return RealPort(self, variables)

    def get_reals(self, variables: Sequence[FmuVariable]) -> list[float]:
        refs = [v.value_reference for v in variables]
        try:
            found: list[float] = (self._fmu.getFloat64 if self._v3 else self._fmu.getReal)(refs)
        except Exception as exc:
            raise self._failed("reading values", exc) from exc
        return found

    def step(self, size: float) -> None:
        """Advance from the current communication point by ``size`` seconds."""
        try:
            if self._v3:
                self._fmu.doStep(currentCommunicationPoint=self._time, communicationStepSize=size)
            else:
                self._do_step(self._time, size, 1)
        except Exception as exc:
            raise self._failed(f"the step at t={self._time:g} s", exc) from exc
        self._time += size

    @property
    def time(self) -> float:
        return self._time

    def close(self) -> None:
        """Terminate and free the instance (errors on the way out are of no use to anyone)."""
        try:
            if self._initialised:
                self._fmu.terminate()
            self._fmu.freeInstance()
        except Exception:  # noqa: S110 - an FMU failing to terminate leaves nothing to recover
            pass

    def _failed(self, what: str, exc: Exception) -> FmuFailed:
        return FmuFailed(
            f"FMU {self.description.model_name} of {self.name!r} failed in {what}: {exc}",
            details={"twin": self.name, "time": self._time},
        )


class RealPort:
    """Real variables of one instance, set or read through ctypes arrays made once."""

    def __init__(self, instance: FmuInstance, variables: Sequence[FmuVariable]) -> None:
        fmu = instance._fmu
        self._instance = instance
        self._n = len(variables)
        self._refs = (ctypes.c_uint32 * self._n)(*(v.value_reference for v in variables))
        self._values = (ctypes.c_double * self._n)()
        arguments: tuple[Any, ...] = (fmu.component, self._refs, self._n, self._values)
        if instance._v3:
            arguments = (*arguments, self._n)
        getter: Callable[..., Any] = fmu.fmi3GetFloat64 if instance._v3 else fmu.fmi2GetReal
        setter: Callable[..., Any] = fmu.fmi3SetFloat64 if instance._v3 else fmu.fmi2SetReal
        self._get: Callable[[], Any] = partial(getter, *arguments)
        self._set: Callable[[], Any] = partial(setter, *arguments)

    def set(self, values: Sequence[float]) -> None:
        if not self._n:
            return
        values_ = self._values
        for i, value in enumerate(values):
            values_[i] = value
        try:
            self._set()
        except Exception as exc:
            raise self._instance._failed("setting inputs", exc) from exc

    def get(self) -> list[float]:
        if not self._n:
            return []
        try:
            self._get()
        except Exception as exc:
            raise self._instance._failed("reading outputs", exc) from exc
        return self._values[:]
