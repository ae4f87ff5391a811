"""``python -m trio_httpcore``: the command line (see :mod:`trio_httpcore._cli`)."""

from ._cli import main

raise SystemExit(main())
