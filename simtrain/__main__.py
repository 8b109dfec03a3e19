"""``python -m simtrain`` runs the command line."""

import sys

from simtrain.cli import main

sys.exit(main())
