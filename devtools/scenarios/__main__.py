"""`python -m devtools.scenarios run PATH... [--junit FILE] [--jobs N]`: see cli.py."""
import sys

from devtools.scenarios.cli import main

sys.exit(main())
