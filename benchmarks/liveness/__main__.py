"""``python -m benchmarks.liveness``."""

import sys

from benchmarks.liveness.cli import main

sys.exit(main())
