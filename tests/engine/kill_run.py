"""Train the toy config and SIGKILL this process right after optimizer step N (argv: RUN N overrides…)."""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import toy_method  # noqa: E402,F401

from kpdet.config import load_config  # noqa: E402
from kpdet.engine.trainer import train  # noqa: E402

run, kill_at, *overrides = sys.argv[1:]


def hook(step: int) -> None:
    if step == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)


train(load_config(None, overrides), run, step_hook=hook)
