"""Where the ``samovar`` commands print: one stdout console and one way to fail."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console, ConsoleDimensions

# Rich lays tables out for 80 columns when stdout is not a terminal, which cuts names in
# pipes, files and captured output; there we allow this many columns instead.
PIPED_WIDTH = 200


class _StdoutConsole(Console):
    """A rich Console that is at least PIPED_WIDTH wide when its output is not a terminal."""

    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self.is_terminal:
            return dims
        return ConsoleDimensions(max(dims.width, PIPED_WIDTH), dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


console = _StdoutConsole()


def fail(message: str) -> None:
    """Print an error in red on stderr, on one line however long, and exit with status 2 (no traceback)."""
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


# ---------------------------------------------------------------- option values shared by the commands

def parse_numbers(text: str, count: int | None, what: str) -> tuple[float, ...]:
    """Parse `count` numbers (None: one or more) separated by commas, spaces or slashes; else fail with `what`."""
    parts = [p for p in text.replace(",", " ").replace("/", " ").split() if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if not values or (count is not None and len(values) != count):
        fail(f"{text!r}: {what}")
    return values


def parse_split(text: Optional[str]) -> tuple[float, float, float] | None:
    if text is None:
        return None
    return parse_numbers(text, 3, "--split needs three shares train,val,test, e.g. --split 0.7,0.1,0.2")  # type: ignore[return-value]
