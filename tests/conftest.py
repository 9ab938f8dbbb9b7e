import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("KPDET_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real, human-labelled data beside the project. CI must fail, not skip, without it."""
    if not SHARED.is_dir():
        raise FileNotFoundError(f"shared data not found at {SHARED}; set KPDET_SHARED_DATA")
    return SHARED
