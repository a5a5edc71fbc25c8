"""``python -m tfpersist``: the same as the ``tfpersist`` command."""

from tfpersist.cli import main

raise SystemExit(main())
