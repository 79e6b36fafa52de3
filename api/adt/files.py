"""Files for import jobs: ``PUT /files/{name}`` uploads one, ``GET`` reads it back (job logs), ``DELETE``.

ADT's import jobs read their input from a blob and write their log to another; kgtwin has
no blob storage, so a job names files in one folder (``KGTWIN_ADT_FILES_DIR``, default
``data/adt-files``). A caller uploads a file with ``PUT`` (streamed to disk, within the
API's body limit) or an operator copies a larger one into the folder; a job's
``inputBlobUri`` is the file's name, or any URI whose last path segment is ``files/<name>``.
Names are one path segment of letters, digits, ``.``, ``-`` and ``_``: nothing outside the
folder can be named.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse

from api.adt.http import permission, run_in_threadpool
from api.context import ApiContext
from api.roles import Permission
from ontology.errors import BadRequest, NotFound

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")


def file_path(folder: Path, name: str) -> Path:
    """The path of file ``name`` in ``folder``; ``BadRequest`` for a name that is not one plain segment."""
    if _NAME.fullmatch(name) is None or ".." in name:
        raise BadRequest(
            f"{name!r} is not a file name: 1 to 200 letters, digits, '.', '-' or '_', "
            "not starting with '.' or '-'",
            details={"file": name, "path": "name"},
        )
    return folder / name


def named_file(folder: Path, uri: str) -> Path:
    """The file a job's blob URI names: a bare name, or a URI ending in ``files/<name>``."""
    if _NAME.fullmatch(uri) is not None:
        return file_path(folder, uri)
    parts = [p for p in urlparse(uri).path.split("/") if p]
    if len(parts) >= 2 and parts[-2] == "files":
        return file_path(folder, parts[-1])
    raise BadRequest(
        f"{uri!r} names no uploaded file: give a file name, or the URL PUT /adt/files/<name> uploaded it to",
        details={"uri": uri},
    )


def files_router(context: ApiContext) -> APIRouter:
    router = APIRouter(tags=["Files"], dependencies=[Depends(permission(Permission.ADMIN))])

    def folder() -> Path:
        found = context.adt.files_dir
        found.mkdir(parents=True, exist_ok=True)
        return found

    @router.put("/files/{name}", status_code=201)
    async def upload(name: str, request: Request) -> dict[str, Any]:
        target = file_path(folder(), name)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        size = 0
        try:
            with partial.open("wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    await run_in_threadpool(out.write, chunk)
            os.replace(partial, target)  # a reader never sees half a file
        finally:
            partial.unlink(missing_ok=True)  # an upload cut short leaves nothing behind
        return {"name": name, "size": size}

    @router.get("/files/{name}")
    async def download(name: str) -> FileResponse:
        target = file_path(folder(), name)
        if not target.is_file():
            raise NotFound(f"file {name!r} does not exist", details={"file": name})
        return FileResponse(target, media_type="application/x-ndjson")

    @router.get("/files")
    async def list_files() -> dict[str, Any]:
        entries = sorted(p for p in folder().iterdir() if p.is_file() and not p.name.startswith("."))
        return {"value": [{"name": p.name, "size": p.stat().st_size} for p in entries]}

    @router.delete("/files/{name}", status_code=204)
    async def delete(name: str) -> Response:
        target = file_path(folder(), name)
        if not target.is_file():
            raise NotFound(f"file {name!r} does not exist", details={"file": name})
        target.unlink()
        return Response(status_code=204)

    return router
