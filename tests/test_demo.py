"""The demo runs end to end (one short epoch) and ends with one JSON line of figures."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from spikeflow import demo  # noqa: E402


def test_demo_runs_and_prints_json(tmp_path, capsys):
    rc = demo.main(["--epochs", "2", "--out", str(tmp_path), "--quiet", "--hidden", "64"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    fig = json.loads(lines[-1])
    for key in ("accuracy_torch", "accuracy_engine", "spike_agreement", "synaptic_ops_per_sample",
                "energy_snn_pj", "energy_ann_pj", "latency_ms"):
        assert key in fig
    assert fig["spike_agreement"] >= 0.999
    assert fig["prediction_agreement"] >= 0.995
    assert fig["accuracy_torch"] > 0.5  # ten classes: chance is 0.1
    assert abs(fig["accuracy_engine"] - fig["accuracy_torch"]) <= 0.005
    assert fig["energy_snn_pj"] > 0 and fig["energy_ann_pj"] > 0
    assert (tmp_path / "raster.png").stat().st_size > 1000
    assert (tmp_path / "event_frame.png").stat().st_size > 1000


def test_demo_help_and_bad_arguments(capsys):
    with pytest.raises(SystemExit) as e:
        demo.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--epochs" in out and "--nmnist" in out and "--out" in out
    assert demo.main(["--epochs", "-1"]) == 2
    assert demo.main(["--nmnist", "/nonexistent/folder"]) == 2
