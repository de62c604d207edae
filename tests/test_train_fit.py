"""spikeflow.train.fit: learning, resume, reproducibility, NaN stop, mismatched checkpoints."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import spikeflow.torch as st  # noqa: E402
from spikeflow.train import (  # noqa: E402
    CheckpointMismatchError,
    NonFiniteLossError,
    first_spike_loss,
    first_spike_times,
    fit,
    seed_everything,
)
from spikeflow.train.checkpoint import load_checkpoint  # noqa: E402


def toy_data(n: int = 96, t: int = 12, seed: int = 0):
    """Two classes: spikes mostly on the first or the second half of 20 inputs (batch-first)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    rate = torch.full((n, t, 20), 0.05)
    for i in range(n):
        lo = 0 if y[i] == 0 else 10
        rate[i, :, lo:lo + 10] = 0.5
    x = (torch.rand(n, t, 20, generator=g) < rate).float()
    return torch.utils.data.TensorDataset(x, y)


def loaders(seed: int = 0):
    ds = toy_data(seed=seed)
    train = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True)
    val = torch.utils.data.DataLoader(toy_data(32, seed=seed + 1), batch_size=16)
    return train, val


def net() -> st.Sequential:
    return st.Sequential(st.Linear(20, 32), st.LIF(0.9), st.Linear(32, 2), st.LIF(0.9))


def test_fit_learns_and_returns_history(tmp_path):
    torch.manual_seed(0)
    train, val = loaders()
    h = fit(net(), train, val, epochs=6, lr=5e-3, progress=False, schedule="cosine",
            spike_reg=0.01)
    assert len(h) == 6 and h.epoch == list(range(1, 7))
    assert h.val_acc[-1] >= 0.9
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.lr[-1] < h.lr[0]
    assert all(s > 0 for s in h.spikes_per_sample)
    h.plot(tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 1000


def test_seeded_runs_repeat_and_resume_continues_exactly(tmp_path):
    def run(epochs, ckpt):
        seed_everything(3)
        train, val = loaders()
        model = net()
        h = fit(model, train, val, epochs=epochs, lr=5e-3, seed=7, progress=False,
                checkpoint_dir=ckpt)
        return model, h

    m1, h1 = run(4, None)
    _, h2 = run(4, None)
    assert h1.train_loss == h2.train_loss
    # interrupted after 2 epochs, resumed to 4: the same result as straight through
    run(2, tmp_path)
    m3, h3 = run(4, tmp_path)
    assert h3.epoch == [1, 2, 3, 4]
    assert h3.train_loss == pytest.approx(h1.train_loss)
    for a, b in zip(m1.state_dict().values(), m3.state_dict().values()):
        assert torch.allclose(a, b)


def test_nan_loss_stops_with_epoch_and_batch_and_keeps_checkpoint(tmp_path):
    train, val = loaders()
    model = net()
    fit(model, train, val, epochs=1, progress=False, checkpoint_dir=tmp_path)
    good = {k: v.clone() for k, v in model.state_dict().items()}

    calls = {"n": 0}

    def bad_loss(out, y):
        calls["n"] += 1
        value = torch.nn.functional.cross_entropy(out.sum(0), y)
        return value * float("nan") if calls["n"] == 3 else value

    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 3") as e:
        fit(model, train, val, epochs=3, loss=bad_loss, progress=False, checkpoint_dir=tmp_path)
    assert "last good checkpoint" in str(e.value)
    assert e.value.history.epoch == [1]
    state = load_checkpoint(tmp_path / "last.pt", net())
    assert state["epoch"] == 0
    for k, v in state["model"].items():
        assert torch.equal(v, good[k])


def test_mismatched_checkpoint_is_a_clear_error(tmp_path):
    train, val = loaders()
    fit(net(), train, val, epochs=1, progress=False, checkpoint_dir=tmp_path)
    other = st.Sequential(st.Linear(20, 64), st.LIF(), st.Linear(64, 2), st.LIF())
    with pytest.raises(CheckpointMismatchError, match="shape differs"):
        fit(other, train, val, epochs=2, progress=False, checkpoint_dir=tmp_path)


def test_layouts_and_losses():
    train, val = loaders()
    # time-first batches are accepted as well
    tf = [(x.transpose(0, 1), y) for x, y in train]
    h = fit(net(), tf, None, epochs=1, progress=False, loss="count_mse", layout="time_first")
    assert len(h) == 1
    with pytest.raises(st.LayoutError, match="batch"):
        fit(net(), tf, None, epochs=1, progress=False, layout="batch_first")
    with pytest.raises(ValueError, match="unknown loss"):
        fit(net(), train, None, epochs=1, progress=False, loss="hinge")
    h = fit(net(), train, val, epochs=2, progress=False, loss="first_spike", schedule="onecycle")
    assert len(h) == 2


def test_first_spike_time_and_gradient():
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]]).view(3, 1, 2).requires_grad_()
    t = first_spike_times(z)
    assert t.tolist() == [[1.0, 3.0]]
    loss = first_spike_loss(z, torch.tensor([1]))
    loss.backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
