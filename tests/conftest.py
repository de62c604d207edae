"""Shared pytest fixtures (keep this small)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# the oracle (tests/reference.py) is imported as `reference` by the test modules
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder of local data sets: $SPIKEFLOW_DATA, else <repo>/../shared/data.

    A missing folder skips the test, except under CI (env CI=true), where it fails.
    """
    root = Path(os.environ.get("SPIKEFLOW_DATA") or (REPO.parent / "shared" / "data"))
    if not root.is_dir():
        msg = f"data folder {root} not found (set SPIKEFLOW_DATA to the folder of the data sets)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return root
