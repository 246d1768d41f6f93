"""``python -m framework`` runs the ``kernelgrad`` command line."""

import sys

from .cli import main

sys.exit(main())
