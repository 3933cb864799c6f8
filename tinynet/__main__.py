"""``python -m tinynet``: the same as the ``tinynet`` command."""

from .cli import main

raise SystemExit(main())
