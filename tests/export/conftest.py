import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _tiny_models import build_tiny  # noqa: E402


@pytest.fixture
def tiny_method():
    """Factory: ``tiny_method(name, schemas) -> (method in eval mode, config)``, random init."""
    return build_tiny
