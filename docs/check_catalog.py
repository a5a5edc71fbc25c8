"""Fail when the Chinese catalog lags the English source.

Usage: python docs/check_catalog.py GETTEXT_DIR LOCALE_DIR

GETTEXT_DIR holds the .pot files that ``sphinx-build -b gettext`` just made
from the current sources; LOCALE_DIR is ``docs/locale/zh_CN/LC_MESSAGES``.
Every message of every .pot must be in the matching .po, translated and not
fuzzy. ``sphinx-intl stat`` reports but always exits 0, so it cannot gate a
build; this does.
"""

from __future__ import annotations

import pathlib
import sys

from babel.messages.pofile import read_po


def problems(pot: pathlib.Path, po: pathlib.Path) -> tuple[int, list[str]]:
    with pot.open("rb") as f:
        wanted = [m for m in read_po(f) if m.id]
    if not po.exists():
        return len(wanted), [f"{po}: missing ({len(wanted)} messages untranslated)"]
    with po.open("rb") as f:
        catalog = read_po(f)
    found = []
    for m in wanted:
        have = catalog.get(m.id, m.context)
        short = (m.id if isinstance(m.id, str) else m.id[0])[:60].replace("\n", " ")
        if have is None or not (have.string if isinstance(have.string, str) else all(have.string)):
            found.append(f"{po.name}: untranslated: {short!r}")
        elif have.fuzzy:
            found.append(f"{po.name}: fuzzy: {short!r}")
    return len(wanted), found


def main(gettext_dir: str, locale_dir: str) -> int:
    total, bad = 0, []
    for pot in sorted(pathlib.Path(gettext_dir).glob("*.pot")):
        count, found = problems(pot, pathlib.Path(locale_dir) / (pot.stem + ".po"))
        total += count
        bad += found
    print("\n".join(bad))
    print(
        f"zh_CN catalog: {total} messages, {total - len(bad)} translated, {len(bad)} untranslated or fuzzy"
    )
    return 1 if bad or not total else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
