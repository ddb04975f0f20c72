"""`python -m barenet` runs the command line (the same as the `barenet` command)."""

from .cli import main

raise SystemExit(main())
