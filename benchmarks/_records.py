"""What every benchmark record says about where it ran (the commit, the CPU, the conditions), and reading a
record back for the script that turns it into a doc block."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def git_commit() -> str | None:
    """The short hash of the repository's HEAD; None outside a git checkout."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_record(path: Path, write_hint: str) -> tuple[dict[str, Any], str]:
    """(record, its name as the docs cite it: relative to the repository, else the file name); a missing file
    stops the script with one line saying how to write one (`write_hint`, e.g. "--record PATH")."""
    if not path.is_file():
        sys.exit(f"error: no record at {path}; write one with {write_hint} first")
    resolved = path.resolve()
    source = resolved.relative_to(REPO).as_posix() if resolved.is_relative_to(REPO) else resolved.name
    return json.loads(resolved.read_text()), source


def load_averages(values: list[float]) -> str:
    """Load averages as the generated docs print them: 1.9/2.0/2.1."""
    return "/".join(f"{v:.1f}" for v in values)
