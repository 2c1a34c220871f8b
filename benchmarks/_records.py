"""What every benchmark record says about where it ran (the commit, the CPU, the conditions), and reading a
record back for the script that turns it into a doc block."""

from __future__ import annotations

import argparse
import json
import os
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


def record_or_table_parser(description: str, *, record: str, table: str, doc: Path) -> argparse.ArgumentParser:
    """The command line of a script that trains and records (--record PATH) or rewrites doc blocks from a record
    (--table PATH), with --data-dir (default $SAMOVAR_DATA_DIR) and --doc (default `doc`); `record` and `table`
    are their help. Parse it with ``parse_record_or_table``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", default=os.environ.get("SAMOVAR_DATA_DIR"))
    parser.add_argument("--record", type=Path, help=record)
    parser.add_argument("--table", type=Path, help=table)
    parser.add_argument("--doc", type=Path, default=doc)
    return parser


def parse_record_or_table(parser: argparse.ArgumentParser, argv: list[str] | None, blocks: str = "block") -> argparse.Namespace:
    """`argv` parsed; neither --record nor --table is a usage error (`blocks`: what --table writes)."""
    args = parser.parse_args(argv)
    if args.record is None and args.table is None:
        parser.error(f"give --record PATH (train and record) or --table PATH (write the {blocks} from a record)")
    return args


def add_measure_record_options(parser: argparse.ArgumentParser, *, record: str, table: str, doc: Path) -> None:
    """A measuring script's --record PATH, --note, --table PATH and --doc (default `doc`); `record` and `table` are
    their help."""
    parser.add_argument("--record", type=Path, default=None, help=record)
    parser.add_argument("--note", default="", help="--record: a sentence on the machine's load, kept in the record")
    parser.add_argument("--table", type=Path, default=None, help=table)
    parser.add_argument("--doc", type=Path, default=doc, help="the document whose block --table rewrites")
