"""FMU files on disk, content-addressed: one file per distinct content, named by its SHA-256.

The graph holds only a reference node per FMU (``graph.fmus``), as it holds references to
telemetry series and never the points. The files live under one folder (setting
``KGTWIN_FMU_DIR``, default ``./data/fmus``); the cloud profile points it at a volume the
API and every worker mount, so a worker on another machine opens the same file by the
same name. A file is written to a temporary name and renamed into place, so a reader
never sees half a file, and writing the same content twice is harmless.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ontology.errors import NotFound

_CHUNK = 1 << 20


def sha256_of(data: bytes) -> str:
    """The hex SHA-256 of ``data``: the FMU's content address."""
    return hashlib.sha256(data).hexdigest()


class FmuFiles:
    """The FMU files under ``root``: ``root/<first two hex digits>/<sha256>.fmu``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the file of ``sha256`` is (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound(f"{sha256!r} is not the SHA-256 of an FMU", details={"sha256": sha256})
        return self.root / sha256[:2] / f"{sha256}.fmu"

    def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``; its SHA-256 and whether the file is new (false: the content was there)."""
        sha256 = sha256_of(data)
        target = self.path(sha256)
        if target.is_file() and target.stat().st_size == len(data):
            return sha256, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".fmu")
        try:
            with os.fdopen(fd, "wb") as out:
                for start in range(0, len(data), _CHUNK):
                    out.write(data[start : start + _CHUNK])
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256, True

    def read(self, sha256: str) -> bytes:
        """The content stored under ``sha256``; ``NotFound`` when the file is gone."""
        target = self.path(sha256)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise NotFound(
                f"the file of FMU {sha256} is missing from {self.root}", details={"sha256": sha256}
            ) from None

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        """Remove the file of ``sha256`` (nothing happens when it is already gone)."""
        self.path(sha256).unlink(missing_ok=True)
