"""A progress bar on stderr for long jobs, only when stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Jobs with fewer items than this finish before a bar would help.
MIN_ITEMS = 50


def progress(items: Iterable[T], *, desc: str, total: int | None = None) -> Iterator[T]:
    """Iterate over *items*, drawing a tqdm bar on stderr when it is a terminal."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if not sys.stderr.isatty() or (total is not None and total < MIN_ITEMS):
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, total=total, file=sys.stderr, leave=False, unit="tensor")
