"""``python -m sim`` is the same as ``treatsim``."""

import sys

from .cli import main

sys.exit(main())
