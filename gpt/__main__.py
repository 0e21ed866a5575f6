"""`python -m gpt ...`: see gpt/cli.py."""
import sys

from .cli import main

sys.exit(main())
