"""The benchmark scripts' one way to put a generated block into a document (the README, docs/results/*.md):
the text from a begin marker to an end marker is replaced by the block, which starts and ends with them.

    from _blocks import replace_block                    # scripts in benchmarks/ import it by name
    text = replace_block(text, BEGIN, END, "\n".join(lines), "README.md", error=SystemExit)
"""

from __future__ import annotations

from pathlib import Path


def replace_block(text: str, begin: str, end: str, block: str, where: str,
                  error: type[BaseException] = ValueError) -> str:
    """`text` with its first begin..end span (markers included) replaced by `block`; `error` naming both markers
    when `where` (the document, for the message) lacks one of them."""
    if begin not in text or end not in text.split(begin, 1)[-1]:
        raise error(f"{where} has no block markers ({begin} … {end}): add them where the generated table goes")
    head, rest = text.split(begin, 1)
    return head + block + rest.split(end, 1)[1]


def rewrite_block(path: Path, begin: str, end: str, block: str) -> None:
    """Replace `path`'s begin..end block by `block` in place (atomically); a missing marker stops the script
    with one line."""
    from samovar.utils import write_text_atomic

    write_text_atomic(path, replace_block(path.read_text(), begin, end, block, str(path), error=SystemExit))
