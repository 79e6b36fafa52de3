"""Run a tutorial's code blocks in order, as a reader would, and check what they print.

The convention (docs/tutorials/README.md) is in the fence's info string:

- ```` ```json file=pump.json ```` writes the block to ``pump.json`` in the tutorial's folder;
- ```` ```sh run ```` runs it with bash (``-euo pipefail``) in that folder; ``run exit=1``
  expects that exit status instead of 0;
- ```` ```graphql run ```` sends it to ``/graphql``; it must answer without errors, or with
  ``run error=CODE`` with that code first;
- ```` ```python run ```` runs it with the tests' Python;
- an ```` ```output ```` block right after a ``run`` block lists lines that must appear in
  what it printed, in that order (``...`` inside a line stands for any text); after a
  ``graphql run`` a ```` ```json output ```` block is a part of the answer that must match
  (objects: the keys given; lists: the items given, in order, ``"..."`` for any rest; the
  string ``"..."`` for any value).

Blocks without these words are shown, not run. Addresses are the defaults a reader has
(``127.0.0.1:8000`` for kgtwin, port ``1883`` for its broker); the runner points them at
the service under test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.ui.service import TwinService

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


@dataclass
class Block:
    """One fenced block: its language, the words after it, its text and line in the file."""

    language: str
    words: dict[str, str]
    text: str
    line: int
    expected: Block | None = None

    @property
    def runs(self) -> bool:
        return "run" in self.words


@dataclass
class Outcome:
    block: Block
    output: str
    problems: list[str] = field(default_factory=list)


def blocks(markdown: str) -> list[Block]:
    """The fenced blocks of a page, each ``output`` block attached to the block before it."""
    found: list[Block] = []
    for match in _FENCE.finditer(markdown):
        info = match.group(1).split()
        language = info[0] if info else ""
        words = dict(word.split("=", 1) if "=" in word else (word, "") for word in info[1:])
        block = Block(language, words, match.group(2), markdown[: match.start()].count("\n") + 1)
        if "output" in words or language == "output":
            if found and found[-1].runs:
                found[-1].expected = block
            continue
        found.append(block)
    return found


def localise(text: str, twin: TwinService) -> str:
    """The text with the reader's default addresses replaced by the service under test's."""
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{twin.port}")
    return re.sub(r"\b1883\b", str(twin.broker_port), text)


def run_block(block: Block, folder: Path, twin: TwinService, env: dict[str, str]) -> Outcome:
    """Write or run one block; what it printed and what did not match."""
    text = localise(block.text, twin)
    if "file" in block.words:
        (folder / block.words["file"]).write_text(text)
    if not block.runs:
        return Outcome(block, "")
    if block.language == "graphql":
        return _graphql(block, text, twin)
    argv = ["bash", "-euo", "pipefail", "-c", text] if block.language in ("sh", "bash", "shell") else None
    if block.language == "python":
        argv = [sys.executable, "-c", text]
    if argv is None:
        return Outcome(block, "", [f"line {block.line}: cannot run a {block.language!r} block"])
    done = subprocess.run(
        argv,
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=float(block.words.get("timeout", 180)),
    )
    output = done.stdout + done.stderr
    outcome = Outcome(block, output)
    status = int(block.words.get("exit", "0"))
    if done.returncode != status:
        outcome.problems.append(f"line {block.line}: exit status {done.returncode}, not {status}:\n{output}")
    if block.expected is not None:
        outcome.problems += _lines_in_order(block.expected, output)
    return outcome


def _graphql(block: Block, query: str, twin: TwinService) -> Outcome:
    answer = httpx.post(f"{twin.url}/graphql", json={"query": query}, timeout=60).json()
    outcome = Outcome(block, json.dumps(answer, indent=2))
    errors = answer.get("errors") or []
    code = block.words.get("error")
    if code is None and errors:
        outcome.problems.append(f"line {block.line}: errors {errors}")
    if code is not None and (not errors or errors[0].get("extensions", {}).get("code") != code):
        outcome.problems.append(f"line {block.line}: expected error {code}, got {answer}")
    if block.expected is not None:
        wanted = json.loads(block.expected.text)
        outcome.problems += [f"line {block.expected.line}: {p}" for p in mismatches(wanted, answer)]
    return outcome


def _lines_in_order(expected: Block, output: str) -> list[str]:
    at = 0
    for line in (line.strip() for line in expected.text.splitlines()):
        if not line:
            continue
        pattern = re.compile(".*?".join(re.escape(part) for part in line.split("...")))
        found = pattern.search(output, at)
        if found is None:
            return [f"line {expected.line}: {line!r} not found after position {at} in:\n{output}"]
        at = found.end()
    return []


def mismatches(wanted: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` does not hold ``wanted`` (the subset rules of the module docstring)."""
    if wanted == "...":
        return []
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return [f"{path or '/'}: {actual!r} is not an object"]
        return [
            p for key, value in wanted.items() for p in mismatches(value, actual.get(key), f"{path}/{key}")
        ]
    if isinstance(wanted, list):
        if not isinstance(actual, list):
            return [f"{path or '/'}: {actual!r} is not a list"]
        rest = bool(wanted) and wanted[-1] == "..."
        items = wanted[:-1] if rest else wanted
        if len(actual) < len(items) or (not rest and len(actual) != len(items)):
            return [f"{path or '/'}: {len(actual)} items, expected {len(items)}{' or more' if rest else ''}"]
        return [p for i, item in enumerate(items) for p in mismatches(item, actual[i], f"{path}/{i}")]
    if isinstance(wanted, float) and isinstance(actual, int | float):
        return [] if abs(wanted - actual) < 1e-9 else [f"{path}: {actual!r}, expected {wanted!r}"]
    return [] if wanted == actual else [f"{path or '/'}: {actual!r}, expected {wanted!r}"]


def tutorial_env(twin: TwinService, extra: dict[str, str]) -> dict[str, str]:
    """The environment blocks run in: the tests' kgtwin first on PATH, no developer KGTWIN_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}
