"""``python -m samovar ...``: the ``samovar`` command."""

from .cli import app

app(prog_name="samovar")
