"""``python -m simtrain`` runs the command line."""

import sys

try:
    from simtrain.cli import main
except KeyboardInterrupt:   # Ctrl-C while starting: one line, as in every command
    print("interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
