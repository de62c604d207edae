"""Where datasets live: nothing downloads, files are looked up locally."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_root"]


def data_root() -> Path:
    """The folder that holds datasets: ``$SPIKEFLOW_DATA`` if set; otherwise, in a source
    checkout, ``<repo>/../shared/data`` when it exists; else ``~/.spikeflow/data``."""
    env = os.environ.get("SPIKEFLOW_DATA")
    if env:
        return Path(env).expanduser()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent.parent / "shared" / "data").is_dir():
            return parent.parent / "shared" / "data"
    return Path.home() / ".spikeflow" / "data"
