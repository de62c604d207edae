"""The real-data examples (``examples/mnist_conv.py``, ``examples/nmnist.py``) run end to end on
tiny subsets: the JSON line has its figures, accuracies are fractions, the engine agrees with
torch, and an interrupted run resumes from its per-epoch checkpoint to the same result."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

KEYS = ("accuracy", "train_seconds", "epochs_done", "torch_spikes_per_sample", "accuracy_engine",
        "spike_agreement", "prediction_agreement", "spikes_per_sample", "synaptic_ops_per_sample",
        "energy_snn_nj", "energy_ann_nj", "energy_ratio_ann_over_snn", "latency_ms", "total_seconds")
TINY = ["--channels", "8", "16", "--hidden", "32", "--lr", "5e-3", "--threads", "1", "--quiet"]


def _load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _figures(capsys) -> dict:
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


def _check(fig: dict, chance_beaten: bool = True) -> None:
    for key in KEYS:
        assert key in fig, key
    assert isinstance(fig["accuracy"], float) and 0.0 <= fig["accuracy"] <= 1.0
    assert 0.0 <= fig["accuracy_engine"] <= 1.0
    if chance_beaten:
        assert fig["accuracy"] > 0.3  # ten classes: chance is 0.1 (tiny runs reach 0.5-0.7)
    assert fig["spike_agreement"] >= 0.999 and fig["prediction_agreement"] >= 0.9
    assert fig["synaptic_ops_per_sample"] > 0 and fig["energy_snn_nj"] > 0 and fig["energy_ann_nj"] > 0


@pytest.fixture
def mnist_root(data_root):
    if not (data_root / "mnist").is_dir():
        pytest.skip("no mnist/ under the data root")
    return data_root


@pytest.fixture
def nmnist_root(data_root):
    if not (data_root / "nmnist" / "Train").is_dir():
        pytest.skip("no nmnist/Train under the data root")
    return data_root


def _mnist_args(root: Path, ckpt: Path, epochs: int, *extra: str, limit: int = 1024) -> list:
    return ["--data", str(root), "--limit", str(limit), "--test-limit", "200", "--epochs", str(epochs),
            "--batch", "32", "--deploy-samples", "10", "--checkpoint-dir", str(ckpt), *TINY, *extra]


def test_mnist_conv_runs_and_reports(mnist_root, tmp_path, capsys):
    mc = _load("mnist_conv")
    assert mc.main(_mnist_args(mnist_root, tmp_path / "a", 2)) == 0
    fig = _figures(capsys)
    _check(fig)
    assert fig["dataset"] == "mnist" and fig["T"] == 4 and fig["epochs_done"] == 2
    assert fig["test_samples"] == 200 and fig["engine_samples"] == 10
    assert (tmp_path / "a" / "last.pt").exists()


def test_mnist_conv_resumes_after_an_interruption(mnist_root, tmp_path, capsys, monkeypatch):
    import spikeflow.train as strain

    mc = _load("mnist_conv")
    args = _mnist_args(mnist_root, tmp_path / "full", 2, "--deploy-samples", "0", "--test-limit", "100", limit=512)
    assert mc.main(args) == 0
    full = _figures(capsys)

    class Stop(Exception):
        pass

    real_fit = strain.fit

    def fit_stopping_after_one_epoch(*a, **kw):
        def stop(epoch, _hist):
            if epoch == 1:
                raise Stop
        return real_fit(*a, on_epoch_end=stop, **kw)

    resumed_args = [a if a != str(tmp_path / "full") else str(tmp_path / "cut") for a in args]
    monkeypatch.setattr(strain, "fit", fit_stopping_after_one_epoch)
    with pytest.raises(Stop):
        mc.main(resumed_args)
    monkeypatch.setattr(strain, "fit", real_fit)
    capsys.readouterr()
    assert (tmp_path / "cut" / "last.pt").exists()
    assert mc.main(resumed_args) == 0   # resumes at epoch 2
    cut = _figures(capsys)
    assert cut["epochs_done"] == 2
    assert cut["accuracy"] == full["accuracy"]
    assert cut["torch_spikes_per_sample"] == pytest.approx(full["torch_spikes_per_sample"], rel=1e-6)
    assert mc.main(resumed_args) == 0   # finished: evaluates only, same figures
    again = _figures(capsys)
    assert again["epochs_done"] == 2 and again["accuracy"] == cut["accuracy"]


@pytest.mark.parametrize("encoding", ["poisson", "latency"])
def test_mnist_conv_other_codings_and_fashion(mnist_root, tmp_path, capsys, encoding):
    if not (mnist_root / "fashion-mnist").is_dir():
        pytest.skip("no fashion-mnist/ under the data root")
    mc = _load("mnist_conv")
    args = _mnist_args(mnist_root, tmp_path / "c", 1, "--encoding", encoding, "--dataset", "fashion", limit=256)
    assert mc.main(args) == 0
    fig = _figures(capsys)
    _check(fig, chance_beaten=False)
    assert fig["dataset"] == "fashion" and fig["T"] == 6 and fig["encoding"] == encoding


def test_encoders_are_spikes_with_the_right_counts():
    import torch

    mc = _load("mnist_conv")
    img = torch.tensor([[[0, 64, 128, 255]]], dtype=torch.uint8)  # [1, 1, 4]
    reg = mc.encode_images(img, 4, "regular")
    assert reg.shape == (4, 1, 1, 1, 4)
    assert set(reg.unique().tolist()) <= {0.0, 1.0}
    assert reg.sum(0).flatten().tolist() == [0.0, 1.0, 2.0, 4.0]  # round(T * x)
    lat = mc.encode_images(img, 4, "latency")
    assert lat.sum(0).flatten().tolist() == [0.0, 1.0, 1.0, 1.0]
    assert lat[0, 0, 0, 0, 3] == 1.0 and lat[3, 0, 0, 0, 1] == 0.0  # brightest first


def test_nmnist_real_runs_and_reports(nmnist_root, tmp_path, capsys):
    nm = _load("nmnist")
    args = ["--data", str(nmnist_root), "--epochs", "3", "--T", "6", "--deploy-samples", "10",
            "--checkpoint-dir", str(tmp_path / "n"), *TINY]
    assert nm.main(args) == 0
    fig = _figures(capsys)
    _check(fig)
    assert fig["mode"] == "real" and fig["test_samples"] == 81 and fig["train_samples"] == 1000
    assert (tmp_path / "n" / "last.pt").exists()


def test_nmnist_sim2real_runs_and_reports(nmnist_root, tmp_path, capsys):
    if not (nmnist_root / "mnist").is_dir():
        pytest.skip("no mnist/ under the data root")
    nm = _load("nmnist")
    args = ["--data", str(nmnist_root), "--sim2real", "--limit", "200", "--sim-test", "50", "--epochs", "1",
            "--T", "6", "--deploy-samples", "5", "--checkpoint-dir", str(tmp_path / "s"),
            "--cache-dir", str(tmp_path / "cache"), *TINY]
    assert nm.main(args) == 0
    fig = _figures(capsys)
    _check(fig, chance_beaten=False)
    assert fig["mode"] == "sim2real" and fig["train_samples"] == 200
    assert 0.0 <= fig["accuracy_sim_test"] <= 1.0 and fig["sim_test_samples"] == 50
    assert 0.0 <= fig["accuracy_real_train"] <= 1.0 and fig["real_train_samples"] == 1000
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2  # simulated frames cached
    assert nm.main(args) == 0  # cached frames, finished checkpoint: same figures
    again = _figures(capsys)
    assert again["accuracy"] == fig["accuracy"] and again["accuracy_sim_test"] == fig["accuracy_sim_test"]
