"""Microsoft's DTDL parser as a process: the oracle kgtwin's ontology is compared with.

``tools/dtdl-parser/harness.mjs`` runs DTDLParser (compiled to WebAssembly, on Node) as
one long-lived process reading batches as JSON lines; starting its .NET runtime and
loading the metamodel take seconds, a batch then takes milliseconds. ``make test``
installs it (``tools/dtdl-parser/install.sh``); :class:`MicrosoftParser` starts it, sends
batches and reads verdicts, and starts it again if a batch crashes it or hangs.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

HARNESS = Path(__file__).resolve().parents[3] / "tools" / "dtdl-parser"
# The first batch warms the WebAssembly interpreter and the metamodel: seconds, not milliseconds.
START_TIMEOUT_S = 300.0
CASE_TIMEOUT_S = 300.0


class HarnessUnavailable(Exception):
    """Node or the harness's npm packages are missing, or the process would not start."""


@dataclass(frozen=True)
class Verdict:
    """What a parser said of one batch: accepted, or rejected and how.

    ``kind`` is ``Accepted``, ``Parsing`` (violations), ``Resolution`` (nothing wrong but
    references to DTMIs that are not in the batch: ``unresolved`` names them), ``Crash``
    (the parser threw something else, e.g. on text that is not JSON) or ``Timeout``.
    """

    accepted: bool
    kind: str
    unresolved: frozenset[str] = frozenset()
    messages: tuple[str, ...] = field(default=(), compare=False)


def _verdict(answer: dict[str, Any]) -> Verdict:
    if answer.get("accepted"):
        return Verdict(True, "Accepted")
    kind = str(answer.get("kind", "Crash"))
    if kind == "Resolution":
        return Verdict(False, kind, frozenset(answer.get("unresolved", ())))
    if kind == "Parsing":
        causes = tuple(f"{e.get('validationId')}: {e.get('cause')}" for e in answer.get("errors", ()))
        return Verdict(False, kind, messages=causes)
    return Verdict(False, kind, messages=(str(answer.get("message", "")),))


class MicrosoftParser:
    """A running harness: ``verdict(documents)`` parses one batch of DTDL JSON texts."""

    def __init__(self, harness: Path = HARNESS, timeout_s: float = CASE_TIMEOUT_S) -> None:
        if not (harness / "node_modules" / "@digicatapult" / "dtdl-parser").is_dir():
            raise HarnessUnavailable(
                f"Microsoft's DTDL parser is not installed: run `bash {harness / 'install.sh'}` "
                "(make test does)"
            )
        self._harness = harness
        self._timeout = timeout_s
        self._next_id = 0
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: IO[str] | None = None
        self.parser_version = ""
        self.package_version = ""
        self._start()

    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - lives with the process
        try:
            self._process = subprocess.Popen(
                ["node", str(self._harness / "harness.mjs")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
                encoding="utf-8",
                cwd=self._harness,
                env={**os.environ, "NODE_NO_WARNINGS": "1"},
            )
        except OSError as exc:
            raise HarnessUnavailable(f"cannot start node: {exc}") from exc
        self._lines = queue.Queue()
        threading.Thread(target=self._pump, args=(self._process, self._lines), daemon=True).start()
        ready = self._read(lambda a: bool(a.get("ready")), START_TIMEOUT_S)
        if ready is None:
            raise HarnessUnavailable(f"the DTDL parser harness did not start: {self._stderr_tail()}")
        self.parser_version = str(ready.get("parser", ""))
        self.package_version = str(ready.get("package", ""))

    @staticmethod
    def _pump(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].strip()

    def _read(self, wanted: Any, timeout_s: float) -> dict[str, Any] | None:
        """The next answer ``wanted`` accepts; None if the process ends or the time runs out."""
        while True:
            try:
                line = self._lines.get(timeout=timeout_s)
            except queue.Empty:
                return None
            if line is None:
                return None
            if not line.startswith("{"):
                continue  # something the .NET runtime printed
            try:
                answer = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(answer, dict) and wanted(answer):
                return answer

    def verdict(self, documents: Sequence[str]) -> Verdict:
        """Parse one batch; a batch that crashes the process or hangs is a Crash or a Timeout."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        assert self._process is not None
        assert self._process.stdin is not None
        self._next_id += 1
        case_id = self._next_id
        try:
            self._process.stdin.write(json.dumps({"id": case_id, "documents": list(documents)}) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._stop()
            return Verdict(False, "Crash", messages=(f"the harness died: {self._stderr_tail()}",))
        answer = self._read(lambda a: a.get("id") == case_id, self._timeout)
        if answer is None:
            timed_out = self._process.poll() is None
            tail = self._stderr_tail()
            self._stop()
            if timed_out:
                return Verdict(False, "Timeout", messages=(f"no answer within {self._timeout:.0f} s",))
            return Verdict(False, "Crash", messages=(f"the harness died: {tail}",))
        return _verdict(answer)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def close(self) -> None:
        """End the process (closing its input lets it finish on its own)."""
        self._stop()

    def __enter__(self) -> MicrosoftParser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
