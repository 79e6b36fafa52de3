"""Helpers for running the real ``kgtwin`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

KGTWIN = str(Path(sys.executable).with_name("kgtwin"))

RunKgtwin = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_kgtwin(tmp_path: Path) -> RunKgtwin:
    """Run ``kgtwin <args>`` in an empty folder with a clean KGTWIN_* environment."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
        return subprocess.run(
            [KGTWIN, *args],
            cwd=tmp_path,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
