"""Where the ``samovar`` commands print: one stdout console and one way to fail."""

from __future__ import annotations

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
