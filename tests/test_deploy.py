"""spikeflow.deploy: a torch SNN and its engine translation give the same spikes."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikeflow as sf  # noqa: E402
import spikeflow.deploy as sd  # noqa: E402
import spikeflow.torch as st  # noqa: E402
from spikeflow.train import fit  # noqa: E402


def _scale(model, w=3.0, b=2.0):
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
                layer.weight.mul_(w)
                if layer.bias is not None:
                    layer.bias.mul_(b)
    return model


def _mlp(seed=0):
    torch.manual_seed(seed)
    return _scale(st.Sequential(
        st.Linear(100, 80), st.LIF(beta=0.9, v_th=1.0),
        st.Linear(80, 60), st.IF(v_th=1.0, reset="value"),
        st.Linear(60, 10), st.LIF(beta=0.8, v_th=0.5, reset="zero"),
    ))


def _conv(seed=1):
    torch.manual_seed(seed)
    m = st.Sequential(
        st.Conv2d(2, 4, 3, padding=1), st.TimeBatchNorm2d(4), st.LIF(beta=0.9),
        st.MaxPool2d(2), st.Conv2d(4, 6, 3, stride=2), st.LIF(beta=0.95, v_th=0.7),
        st.AvgPool2d(2), st.Flatten(), st.TimeDropout(0.3), st.Linear(6, 32),
        st.RecurrentLIF(32, beta=0.9), st.Linear(32, 10), st.LIF(beta=0.9),
    )
    x = (torch.rand(10, 8, 2, 12, 12) < 0.15).float()
    m.train()
    m(x)  # batch-norm running statistics
    m.eval()
    return _scale(m, b=1.0)


def test_mlp_spikes_identical_to_torch():
    m = _mlp()
    x = (torch.rand(30, 64, 100, generator=torch.Generator().manual_seed(3)) < 0.1).float()
    dep = sf.deploy(m, dt=1.0) if callable(getattr(sf, "deploy", None)) else sd.deploy(m, dt=1.0)
    assert dep.depth == 3 and [lay.size for lay in dep.layers] == [80, 60, 10]
    a = sd.compare(dep, m, x)
    assert a.spike_agreement >= 0.999
    assert a.output_spike_agreement >= 0.999
    assert a.first_spike_agreement >= 0.999
    assert a.prediction_agreement >= 0.995
    assert sum(c.sum() for c in a.torch_counts) > 1000  # the check is not vacuous
    # spike trains, step by step, on two samples
    for b in range(2):
        trains = dep.spike_trains(x[:, b])
        ref = sd.torch_layer_spikes(m, [lay.module for lay in dep.layers], x[:, b:b + 1])
        for e, z in zip(trains, ref):
            assert np.array_equal(e, z[:, 0].reshape(30, -1).numpy())


def test_conv_pool_batchnorm_recurrent_identical():
    m = _conv()
    x = (torch.rand(20, 12, 2, 12, 12, generator=torch.Generator().manual_seed(4)) < 0.15).float()
    dep = sd.deploy(m, dt=0.5, input_shape=(2, 12, 12))
    kinds = [type(lay.module).__name__ for lay in dep.layers]
    assert kinds == ["LIF", "MaxPool2d", "LIF", "RecurrentLIF", "LIF"]
    a = sd.compare(dep, m, x)
    assert a.spike_agreement >= 0.999 and a.prediction_agreement >= 0.995
    assert all(c.sum() > 0 for c in a.torch_counts)


def test_trained_model_predictions_agree():
    """A model trained with surrogate gradients (realistic weights) deploys faithfully."""
    g = torch.Generator().manual_seed(0)
    protos = (torch.rand(4, 64, generator=g) < 0.3).float()
    y = torch.randint(0, 4, (256,), generator=g)
    rates = 0.05 + 0.4 * protos[y]                      # (N, 64)
    x = (torch.rand(256, 20, 64, generator=g) < rates[:, None, :]).float()  # batch-first
    torch.manual_seed(0)
    m = st.Sequential(st.Linear(64, 32), st.LIF(beta=0.9), st.Linear(32, 4), st.LIF(beta=0.9))
    loader = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    fit(m, loader, epochs=3, lr=5e-3, progress=False)
    xt = x.transpose(0, 1)
    dep = sd.deploy(m, dt=1.0)
    a = sd.compare(dep, m, xt)
    assert a.spike_agreement >= 0.999 and a.prediction_agreement >= 0.995
    acc = float(np.mean(a.engine_predictions == y.numpy()))
    assert acc > 0.5  # it learned something, and the engine keeps it


def test_per_neuron_parameters_and_dt_independence():
    torch.manual_seed(5)
    lif = st.LIF(beta=0.9, learn_beta=True, learn_threshold=True, shape=(20,))
    with torch.no_grad():
        lif.beta.uniform_(0.5, 0.99)
        lif.v_th.uniform_(0.5, 1.5)
    m = _scale(st.Sequential(st.Linear(30, 20), lif, st.Linear(20, 5), st.IF(v_th=2.0, bias=0.1)))
    x = (torch.rand(25, 16, 30) < 0.2).float()
    ref = None
    for dt in (0.25, 1.0, 2.0):
        dep = sd.deploy(m, dt=dt)
        a = sd.compare(dep, m, x)
        assert a.spike_agreement >= 0.999
        if ref is None:
            ref = a.engine_counts
        else:  # leaks are converted with dt: same spikes whatever the step
            assert all(np.array_equal(p, q) for p, q in zip(ref, a.engine_counts))


def test_structure_of_the_translation():
    m = _mlp()
    dep = sd.deploy(m, dt=0.5)
    lay = dep.layers[0]
    proj = lay.projections[0]
    assert proj.n_synapses == 100 * 80
    assert np.allclose(proj.delays, 0.5)
    w = m[0].weight.detach().double().numpy()  # (80, 100)
    assert np.allclose(proj.weights, w.T[proj.pre, proj.post], rtol=0, atol=1e-7)
    model = lay.population.model
    assert isinstance(model, sf.LIF) and model.t_ref == 0.0 and model.reset == "subtract"
    assert np.isclose(np.exp(-0.5 / model.tau_m), 0.9)
    assert isinstance(dep.layers[1].population.model, sf.IF)
    # a convolution is stored as explicit synapses: one per (in, out, kernel tap) in range
    conv = st.Sequential(st.Conv2d(1, 2, 3), st.LIF())
    d2 = sd.deploy(conv, dt=1.0, input_shape=(1, 12, 12))
    assert d2.layers[0].projections[0].n_synapses == 2 * 9 * 10 * 10
    assert d2.layers[0].shape == (2, 10, 10)


def test_encode():
    dep = sd.deploy(st.Sequential(st.Linear(3, 2), st.LIF()), dt=2.0)
    x = np.zeros((4, 3))
    x[1, 2] = 2
    x[3, 0] = 1
    times, ids = dep.encode(x)
    assert times.tolist() == [2.0, 2.0, 6.0] and ids.tolist() == [2, 2, 0]
    with pytest.raises(ValueError, match="spike counts"):
        dep.encode(x + 0.5)
    with pytest.raises(ValueError, match="one sample"):
        dep.encode(np.zeros((4, 2, 3)))


@pytest.mark.parametrize("layers, match", [
    (lambda: [st.Linear(4, 4), st.AdaptiveLIF()], "AdaptiveLIF.*adaptive-threshold"),
    (lambda: [st.Linear(4, 4), st.LIF(), st.Linear(4, 2), st.LeakyIntegrator()], "LeakyIntegrator.*non-spiking"),
    (lambda: [st.Linear(4, 4), st.LIF(), st.SEWBlock(st.Linear(4, 4), st.LIF())], "SEWBlock.*residual"),
    (lambda: [st.Linear(4, 4), st.LIF(), st.Linear(4, 2)], "ends in a linear layer"),
    (lambda: [st.Linear(4, 4), torch.nn.ReLU(), st.LIF()], "layer 1 .*ReLU"),
    (lambda: [st.Linear(4, 4), st.LIF(v_th=-1.0)], "v_th <= 0"),
])
def test_unsupported_layers_are_named(layers, match):
    with pytest.raises(sd.UnsupportedLayerError, match=match):
        sd.deploy(st.Sequential(*layers()), dt=1.0)


def test_unsupported_conv_cases():
    with pytest.raises(sd.UnsupportedLayerError, match="MaxPool2d after a linear layer"):
        sd.deploy(st.Sequential(st.Conv2d(1, 2, 3), st.MaxPool2d(2), st.LIF()), input_shape=(1, 8, 8))
    with pytest.raises(sd.UnsupportedLayerError, match="torch.nn.Flatten"):
        sd.deploy(st.Sequential(st.Conv2d(1, 2, 3), st.LIF(), torch.nn.Flatten(), st.Linear(72, 2), st.LIF()),
                  input_shape=(1, 8, 8))
    with pytest.raises(sd.UnsupportedLayerError, match="add a Flatten"):
        sd.deploy(st.Sequential(st.Conv2d(1, 2, 3), st.LIF(), st.Linear(6, 2), st.LIF()), input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="input_shape"):
        sd.deploy(st.Sequential(st.Conv2d(1, 2, 3), st.LIF()))
    assert isinstance(sd.UnsupportedLayerError("x"), sf.SpikeflowError)
