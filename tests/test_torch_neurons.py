"""spikeflow.torch neurons: grid semantics of the engine, fused kernel equal to the reference."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spikeflow.torch as st  # noqa: E402
from spikeflow.torch import functional as Fn  # noqa: E402
from spikeflow.torch.params import LIFParameters  # noqa: E402


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def engine_grid(model, inputs: np.ndarray, dt: float) -> np.ndarray:
    """The engine's grid rule written out in float64 on absolute voltages."""
    beta = math.exp(-dt / model.tau_m)
    drive = (1 - beta) * model.i_e * model.tau_m / model.c_m
    v = model.v_rest
    out = []
    for x in inputs:
        v = model.v_rest + beta * (v - model.v_rest) + x + drive
        s = v >= model.v_th
        if s:
            v = model.v_reset if model.reset == "value" else v - (model.v_th - model.v_reset)
        out.append(float(s))
    return np.array(out)


@pytest.mark.parametrize("reset", ["value", "subtract"])
def test_from_model_matches_engine_grid(reset):
    from spikeflow.model.neurons import LIF as EngineLIF

    m = EngineLIF(tau_m=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-60.0, t_ref=0.0, c_m=250.0,
                  i_e=200.0, reset=reset)
    rng = np.random.default_rng(0)
    inputs = rng.uniform(0, 4, size=200)
    layer = st.LIF.from_model(m, dt=0.5)
    x = torch.tensor(inputs, dtype=torch.float64).reshape(-1, 1, 1)
    z, _ = layer(x)
    assert np.array_equal(z.flatten().numpy(), engine_grid(m, inputs, 0.5))
    assert z.sum() > 5


def test_from_model_rejects_what_the_grid_cannot_represent():
    from spikeflow.model.neurons import LIF as EngineLIF

    with pytest.raises(ValueError, match="t_ref"):
        st.LIF.from_model(EngineLIF(), dt=1.0)
    with pytest.raises(ValueError, match="delta"):
        st.LIF.from_model(EngineLIF(t_ref=0.0, synapse="exp"), dt=1.0)


def test_to_model_round_trip():
    from spikeflow.model.neurons import IF as EngineIF
    from spikeflow.model.neurons import LIF as EngineLIF

    m = EngineLIF(tau_m=20.0, v_rest=-70.0, v_th=-54.0, v_reset=-70.0, t_ref=0.0, i_e=50.0)
    back = st.LIF.from_model(m, dt=1.0).to_model(v_rest=-70.0, c_m=m.c_m)
    assert back.tau_m == pytest.approx(20.0) and back.v_th == pytest.approx(-54.0)
    assert back.i_e == pytest.approx(50.0) and back.reset == "value"
    assert isinstance(st.IF(v_th=2.0).to_model(), EngineIF)
    layer = st.IF.from_model(EngineIF(v_th=1.5, reset="value"), dt=1.0)
    z, _ = layer(torch.full((4, 1, 1), 0.5))
    assert z.flatten().tolist() == [0.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="no leak"):
        st.IF(beta=0.9)


@pytest.mark.parametrize("reset", ["subtract", "value"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("sg", ["fast_sigmoid", "arctan", "triangle", "straight_through"])
def test_fused_equals_reference(reset, detach, sg):
    torch.manual_seed(0)
    p = LIFParameters(beta=0.8, v_th=1.0, v_reset=0.1 if reset == "value" else 0.0, reset=reset,
                      bias=0.05, surrogate=st.surrogate(sg), detach_reset=detach)
    x = (torch.randn(12, 5, 33) * 0.8).requires_grad_()
    v0 = torch.randn(5, 33).requires_grad_()
    gz = torch.randn(12, 5, 33)
    outs = []
    for fused in (True, False):
        z, s = Fn.lif(x, Fn.LIFState(v0), p, fused=fused)
        loss = (z * gz).sum() + (s.v * 0.3).sum()
        gx, gv = torch.autograd.grad(loss, (x, v0))
        outs.append((z, s.v, gx, gv))
    (z1, v1, gx1, gv1), (z2, v2, gx2, gv2) = outs
    assert torch.equal(z1, z2)
    assert rel(v1, v2) < 1e-5 and rel(gx1, gx2) < 1e-5 and rel(gv1, gv2) < 1e-5


def test_fused_per_feature_and_channels_last():
    torch.manual_seed(1)
    beta = torch.rand(4, 1, 1) * 0.5 + 0.5
    p = LIFParameters(beta=beta, v_th=torch.tensor([1.0, 0.8, 1.2, 0.9]).reshape(4, 1, 1))
    x = torch.randn(6, 3, 4, 5, 5).requires_grad_()
    z1, s1 = Fn.lif(x, None, p, fused=True)
    z2, s2 = Fn.lif(x, None, p, fused=False)
    assert torch.equal(z1, z2) and rel(s1.v, s2.v) < 1e-5
    g1 = torch.autograd.grad(z1.sum() + s1.v.sum(), x)[0]
    g2 = torch.autograd.grad(z2.sum() + s2.v.sum(), x)[0]
    assert rel(g1, g2) < 1e-5
    # a channels-last-in-memory input with scalar parameters runs without copies
    xc = torch.randn(6 * 3, 4, 5, 5).to(memory_format=torch.channels_last).unflatten(0, (6, 3))
    za, _ = Fn.lif(xc, None, LIFParameters(), fused=True)
    zb, _ = Fn.lif(xc.contiguous(), None, LIFParameters(), fused=False)
    assert torch.equal(za, zb)


def test_state_continues_without_hidden_reset():
    torch.manual_seed(2)
    layer = st.LIF(beta=0.9)
    x = torch.rand(20, 2, 7)
    z_all, s_all = layer(x)
    z_a, s = layer(x[:8])
    z_b, s = layer(x[8:], s)
    assert torch.equal(torch.cat([z_a, z_b]), z_all)
    assert torch.allclose(s.v, s_all.v)
    z_again, _ = layer(x)
    assert torch.equal(z_again, z_all)


def test_tau_and_beta_and_learnable_parameters():
    assert st.LIF(tau_m=10.0, dt=1.0).beta == pytest.approx(math.exp(-0.1))
    with pytest.raises(ValueError):
        st.LIF(beta=0.9, tau_m=5.0)
    layer = st.LIF(beta=0.9, learn_beta=True, learn_threshold=True, shape=(7,))
    x = torch.rand(10, 3, 7) * 0.6
    z, _ = layer(x)
    z.sum().backward()
    assert layer.beta.grad is not None and layer.v_th.grad is not None
    assert layer.beta.grad.abs().sum() > 0


def test_if_recurrent_adaptive_and_readout():
    x = torch.rand(15, 4, 6)
    z, s = st.IF(v_th=1.0)(x)
    assert z.shape == x.shape and torch.all(s.v < 1.0)
    r = st.RecurrentLIF(6)
    z, rs = r(x)
    assert z.shape == x.shape and rs.z.shape == (4, 6)
    z.sum().backward()
    assert r.w_rec.grad is not None
    za, _sa = st.AdaptiveLIF(beta=1.0, b=1.0)(torch.full((30, 1, 1), 0.5))
    zl, _ = st.LIF(beta=1.0)(torch.full((30, 1, 1), 0.5))
    assert 0 < za.sum() < zl.sum()  # adaptation lowers the rate
    v, last = st.LeakyIntegrator(beta=0.5)(torch.ones(3, 1, 1))
    assert v.flatten().tolist() == [1.0, 1.5, 1.75] and float(last) == 1.75


def test_surrogates_by_name():
    x = torch.tensor([-1.0, 0.0, 0.02, 1.0], requires_grad=True)
    for name in st.SURROGATES:
        y = st.spike(x, name)
        assert y.tolist() == [0.0, 1.0, 1.0, 1.0]
        (g,) = torch.autograd.grad(y.sum(), x)
        assert g[1] > 0 and g[1] >= g[0]
    with pytest.raises(ValueError, match="unknown surrogate"):
        st.surrogate("sigmoidish")
    assert st.surrogate("arctan", alpha=3.0).alpha == 3.0


def test_layout_errors_say_what_to_fix():
    with pytest.raises(st.LayoutError, match="time axis"):
        st.LIF()(torch.rand(4, 10))
    with pytest.raises(st.LayoutError, match="batch-first"):
        st.check_time_first(torch.rand(8, 25, 10), "LIF", batch_size=8)
    assert st.to_time_first(torch.rand(8, 25, 10), batch_size=8).shape == (25, 8, 10)
    with pytest.raises(st.LayoutError, match="cannot tell"):
        st.to_time_first(torch.rand(8, 8, 10), batch_size=8)
