"""``python -m edgebench`` is the ``edgebench`` command."""
import sys

from edgebench.cli import main

sys.exit(main())
