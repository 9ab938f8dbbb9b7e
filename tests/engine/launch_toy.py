"""`kpdet` CLI with the toy methods registered, for `accelerate launch` tests.

Several commands may run in one launch, separated by `::` (saves a second process start)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import toy_method  # noqa: E402,F401

from kpdet.cli import main  # noqa: E402

commands, current = [], []
for arg in sys.argv[1:]:
    if arg == "::":
        commands.append(current)
        current = []
    else:
        current.append(arg)
commands.append(current)
for argv in commands:
    rc = main(argv)
    if rc:
        sys.exit(rc)
