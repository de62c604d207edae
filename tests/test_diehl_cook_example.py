"""The Diehl & Cook example runs end to end on a few images and learns something."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "diehl_cook_mnist.py"


def _example():
    spec = importlib.util.spec_from_file_location("diehl_cook_mnist", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_short_run_trains_labels_and_tests(data_root, tmp_path):
    dc = _example()
    out = tmp_path / "dc.npz"
    result = dc.main(["--neurons", "40", "--train", "80", "--label", "60", "--test", "60",
                      "--data", str(data_root / "mnist"), "--save", str(out)])
    for key in ("accuracy", "train_seconds", "seconds_per_train_image", "classes_with_neurons"):
        assert key in result
    for key in ("accuracy", "accuracy_proportion", "accuracy_likelihood"):
        assert 0.0 <= result[key] <= 1.0
    saved = np.load(out)
    w, theta, labels = saved["weights"], saved["theta"], saved["labels"]
    assert saved["label_responses"].shape == (60, 40) and saved["test_responses"].shape == (60, 40)
    assert w.shape == (784, 40) and theta.shape == (40,) and labels.shape == (40,)
    assert np.all((w >= 0.0) & (w <= 1.0))
    # Normalised before the last image, then STDP: sums stay near 78.
    np.testing.assert_allclose(w.sum(axis=0), 78.0, rtol=0.2)
    # Neurons that won images raised their thresholds (0.05 mV per spike).
    assert theta.max() > 0.0 and np.all(theta >= 0.0)
    # Neurons that fired learned digit-like receptive fields: their weights correlate with the
    # mean training image far more than their uniform random start did.
    from spikeflow.data import load_mnist

    x, _ = load_mnist(data_root / "mnist", train=True)
    mean_img = x[:80].reshape(80, -1).mean(axis=0)
    w0 = np.random.default_rng(0).uniform(0.0, 0.3, size=(784, 40))
    won = theta > 0

    def corr(m):
        return np.array([np.corrcoef(m[:, j], mean_img)[0, 1] for j in np.flatnonzero(won)])

    assert corr(w).mean() > corr(w0).mean() + 0.08


def test_same_seed_same_result(data_root):
    dc = _example()
    args = ["--neurons", "20", "--train", "20", "--label", "20", "--test", "20", "--data", str(data_root / "mnist")]
    a, b = dc.main(args), dc.main(args)
    assert a["accuracy"] == b["accuracy"]


def test_saved_weights_evaluate_again_identically(data_root, tmp_path):
    dc = _example()
    out = tmp_path / "w.npz"
    common = ["--neurons", "20", "--label", "40", "--test", "40", "--data", str(data_root / "mnist")]
    # a non-default inhibition: --load must evaluate with the value the file was trained with
    trained = dc.main(common + ["--train", "40", "--save", str(out), "--inhibition", "9"])
    again = dc.main(common + ["--load", str(out)])
    assert again["train_images"] == 0 and trained["train_images"] == 40
    assert again["inhibition"] == trained["inhibition"] == 9.0
    for key in ("accuracy", "accuracy_proportion", "accuracy_likelihood"):
        assert again[key] == trained[key]
    np.testing.assert_array_equal(np.load(out)["test_responses"].shape, (40, 20))
    out2 = tmp_path / "w700.npz"
    longer = dc.main(common + ["--load", str(out), "--present-ms", "700", "--save", str(out2)])
    assert longer["present_ms"] == 700.0
    # twice the presentation, more spikes per test image
    assert np.load(out2)["test_responses"].sum() > 1.3 * np.load(out)["test_responses"].sum()
    with pytest.raises(SystemExit, match="--neurons 20"):
        dc.main(["--neurons", "30", "--load", str(out), "--data", str(data_root / "mnist")])


def test_readouts_leave_silent_neurons_unassigned():
    dc = _example()
    # neuron 0 answers class 0, neuron 1 class 1, neuron 2 never fires while labelling
    r_label = np.array([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [4.0, 1.0, 0.0], [0.0, 3.0, 0.0]])
    y_label = np.array([0, 1, 0, 1])
    # a class-0 test image that also excites neuron 1 a little: a silent neuron labelled 0
    # would halve class 0's mean (2 -> 1) and hand the image to class 1 (1.5)
    r_test = np.array([[2.0, 1.5, 0.0], [0.0, 2.0, 0.0]])
    y_test = np.array([0, 1])
    labels, acc = dc.readouts(r_label, y_label, r_test, y_test, classes=2)
    assert labels.tolist() == [0, 1, -1]
    assert acc["accuracy"] == 1.0
    assert acc["accuracy_proportion"] == 1.0 and acc["accuracy_likelihood"] == 1.0
