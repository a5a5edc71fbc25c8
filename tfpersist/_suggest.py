"""Near names for error messages: "did you mean 'add'?"."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to *n* names from *candidates* that look like *name*.

    A candidate contained in *name* (``v1`` in ``other-v1``) comes first;
    then the closest by spelling, as long as they are about as close as the
    best.

    >>> close_names("ad", ["add", "v1", "v2", "init"])
    ['add']
    >>> close_names("other-v1", ["v1", "v2", "global_step"])
    ['v1']
    """

    def score(c: str) -> float:
        return 1.0 if len(c) > 1 and c in name else _head_ratio(name, c)

    scored = sorted(
        ((score(c), c) for c in set(candidates) if c != name), key=lambda t: (-t[0], t[1])
    )
    scored = [(s, c) for s, c in scored if s >= 0.6]
    return [c for s, c in scored if s >= scored[0][0] - 0.1][:n] if scored else []


def _head_ratio(a: str, b: str) -> float:
    """Similarity of *a* and *b* once the ending they share is cut off.

    Checkpoint keys share long endings (``/.ATTRIBUTES/VARIABLE_VALUE``) that
    would make every pair look alike. Case is ignored.
    """
    a, b = a.lower(), b.lower()
    if a == b:
        return 1.0
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    a, b = a[: len(a) - n], b[: len(b) - n]
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""``.

    >>> did_you_mean("other-v1", ["v1", "v2"])
    " (did you mean 'v1'?)"
    >>> did_you_mean("zzz", ["v1", "v2"])
    ''
    """
    close = close_names(name, candidates)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
