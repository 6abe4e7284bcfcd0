"""`python -m refute ...`: the `refute` command without its installed script."""

import sys

from refute.cli import main

sys.exit(main())
