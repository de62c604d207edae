"""spikeflow.torch layers: event-driven Linear/Conv2d equal to dense torch, time-first layers."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import spikeflow.torch as st  # noqa: E402
from spikeflow.torch import sparse  # noqa: E402


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _grads(layer: torch.nn.Module, x: torch.Tensor, g: torch.Tensor):
    layer.zero_grad()
    x = x.clone().requires_grad_()
    y = layer(x)
    (y * g).sum().backward()
    return y, x.grad, layer.weight.grad.clone(), layer.bias.grad.clone()


@pytest.mark.parametrize("density", [0.02, 0.1, 0.5])
@pytest.mark.parametrize("values", ["binary", "graded"])
def test_event_linear_equals_dense(density, values):
    torch.manual_seed(0)
    layer = st.Linear(300, 70, sparse=True)
    x = (torch.rand(9, 4, 300) < density).float()
    if values == "graded":
        x = x * torch.rand_like(x)
    g = torch.randn(9, 4, 70)
    got = _grads(layer, x, g)
    layer.sparse, layer.threshold = False, 0.0
    ref = _grads(layer, x, g)
    for a, b in zip(got, ref):
        assert rel(a, b) < 1e-5


@pytest.mark.parametrize("layout", ["input-major", "contiguous"])
def test_event_linear_equals_dense_in_both_weight_layouts(layout):
    torch.manual_seed(3)
    layer = st.Linear(64, 24, sparse=True)
    assert layer.weight.is_contiguous()
    if layout == "input-major":  # e.g. a weight tied to the transpose of a [in, out] matrix
        layer.weight = torch.nn.Parameter(layer.weight.detach().t().contiguous().t())
    x = (torch.rand(6, 5, 64) < 0.05).float()
    g = torch.randn(6, 5, 24)
    got = _grads(layer, x, g)
    assert layer.weight.grad.stride() == layer.weight.stride()  # kept as given, no copy
    layer.sparse, layer.threshold = False, 0.0
    ref = _grads(layer, x, g)
    for a, b in zip(got, ref):
        assert rel(a, b) < 1e-5
    state = layer.state_dict()
    fresh = st.Linear(64, 24)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.weight, layer.weight)


def test_auto_switches_to_dense_at_high_activity(monkeypatch):
    calls = []
    real = sparse._EventLinear.apply
    monkeypatch.setattr(sparse._EventLinear, "apply", lambda *a: calls.append(1) or real(*a))
    layer = st.Linear(100, 10)
    layer(torch.zeros(3, 2, 100).index_fill_(2, torch.arange(5), 1.0))
    assert calls == [1]
    layer((torch.rand(3, 2, 100) < 0.9).float())
    assert calls == [1]


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_event_conv_equals_dense(stride, padding):
    torch.manual_seed(1)
    layer = st.Conv2d(3, 8, 5, stride=stride, padding=padding, sparse=True)
    x = (torch.rand(4, 2, 3, 17, 15) < 0.1).float()
    out_shape = layer(x).shape
    g = torch.randn(out_shape)
    got = _grads(layer, x, g)
    layer.threshold = 0.0
    ref = _grads(layer, x, g)
    for a, b in zip(got, ref):
        assert rel(a, b) < 1e-5


def test_linear_weight_keeps_torch_semantics():
    layer = st.Linear(5, 3)
    assert layer.weight.shape == (3, 5)
    ref = torch.nn.Linear(5, 3)
    layer.load_state_dict(ref.state_dict())
    x = torch.rand(2, 4, 5)
    assert torch.allclose(layer(x), ref(x), atol=1e-6)


def test_layers_reject_wrong_layouts():
    with pytest.raises(st.LayoutError, match="time-first"):
        st.Linear(10, 3)(torch.rand(4, 10))
    with pytest.raises(ValueError, match="time axis"):
        st.Conv2d(2, 4, 3)(torch.rand(8, 2, 10, 10))
    with pytest.raises(ValueError, match="channels on axis 2"):
        st.Conv2d(2, 4, 3)(torch.rand(5, 8, 10, 10, 2))


def test_pooling_batchnorm_dropout_flatten():
    x = (torch.rand(6, 3, 4, 8, 8) < 0.3).float()
    assert st.AvgPool2d(2)(x).shape == (6, 3, 4, 4, 4)
    assert st.MaxPool2d(2)(x).shape == (6, 3, 4, 4, 4)
    bn = st.TimeBatchNorm2d(4, v_th=0.5)
    assert torch.allclose(bn.weight, torch.full((4,), 0.5))
    y = bn(torch.randn(6, 3, 4, 8, 8) * 3 + 1)
    assert abs(float(y.detach().mean())) < 1e-4
    assert st.TimeBatchNorm1d(5)(torch.randn(4, 3, 5)).shape == (4, 3, 5)
    drop = st.TimeDropout(0.5).train()
    y = drop(torch.ones(10, 4, 50))
    assert torch.equal(y[0] == 0, y[7] == 0)  # the same mask at every step
    assert drop.eval()(x[..., 0, 0]).equal(x[..., 0, 0])
    assert st.Flatten()(x).shape == (6, 3, 256)


def test_sequential_threads_state_and_sew_block():
    torch.manual_seed(3)
    net = st.Sequential(
        st.Linear(20, 16), st.LIF(),
        st.SEWBlock(st.Linear(16, 16), st.LIF(), connect="ADD"),
        st.Linear(16, 4), st.LIF(),
    )
    x = (torch.rand(12, 2, 20) < 0.3).float()
    y, states = net(x)
    assert y.shape == (12, 2, 4) and len(states) == 3
    y1, s = net(x[:5])
    y2, _ = net(x[5:], s)
    assert torch.equal(torch.cat([y1, y2]), y)
    with pytest.raises(ValueError, match="connect"):
        st.SEWBlock(st.LIF(), connect="XOR")


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("size", [(8, 8), (9, 7)])
def test_avg_pool_equals_torch_in_both_layouts(channels_last, size):
    from spikeflow.torch.pooling import avg_pool2d

    torch.manual_seed(4)
    x = torch.randn(6, 5, *size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    y = avg_pool2d(x, 2)
    ref = torch.nn.functional.avg_pool2d(x, 2)
    assert y.shape == ref.shape and rel(y, ref) < 1e-6
    g = torch.randn_like(ref)
    (gx,) = torch.autograd.grad((y * g).sum(), x)
    (gr,) = torch.autograd.grad((ref * g).sum(), x)
    assert rel(gx, gr) < 1e-6


def test_event_conv_reads_channels_last_input():
    torch.manual_seed(5)
    layer = st.Conv2d(4, 6, 3, padding=1, sparse=True)
    x = (torch.rand(3 * 2, 4, 9, 9) < 0.1).float().contiguous(memory_format=torch.channels_last)
    x = x.unflatten(0, (3, 2))
    g = torch.randn(3, 2, 6, 9, 9)
    got = _grads(layer, x, g)
    layer.threshold = 0.0
    ref = _grads(layer, x.contiguous(), g)
    for a, b in zip(got, ref):
        assert rel(a, b) < 1e-5


def test_buffer_cache_never_lends_live_memory():
    from spikeflow.torch import _kernels

    _kernels.cache_clear()  # start from an empty cache: earlier tests leave same-size buffers
    n = 1 << 17
    a = _kernels.empty(n)
    a.fill_(1.0)
    b = _kernels.empty(n)
    assert a.data_ptr() != b.data_ptr()
    b.fill_(2.0)
    assert float(a.sum()) == n
    view = a[10:]
    ptr = a.data_ptr()
    del a
    c = _kernels.empty(n)
    assert c.data_ptr() != ptr  # a view still holds a's memory
    del view
    d = _kernels.empty(n)
    assert d.data_ptr() == ptr  # now it is reused
    assert _kernels.cache_bytes() >= 0
    _kernels.cache_clear()


def test_event_linear_from_another_thread_and_in_a_forked_child():
    # The importing thread is one of rayon's pool threads (one wake-up fewer per kernel
    # call); other threads hand their work to the pool, and a forked child (a DataLoader
    # worker) has no pool threads at all. All three must compute the same product.
    import os
    import signal
    import threading

    torch.manual_seed(0)
    x = (torch.rand(300, 700) < 0.05).float()
    w = torch.randn(90, 700)
    want = torch.nn.functional.linear(x, w)
    here = sparse.linear(x, w, threshold=1.0)
    assert rel(here, want) < 1e-5
    other: list[torch.Tensor] = []
    th = threading.Thread(target=lambda: other.append(sparse.linear(x, w, threshold=1.0)))
    th.start()
    th.join(timeout=60)
    assert other and torch.equal(other[0], here)
    # the importing thread joins the pool only when it has two threads or more (see
    # rust/python/src/lib.rs); a one-thread pool has no thread left after a fork
    threads = int(os.environ.get("RAYON_NUM_THREADS") or 0) or len(os.sched_getaffinity(0))
    if not hasattr(os, "fork") or threads < 2:
        return
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        signal.alarm(60)  # a hang becomes SIGALRM instead of a stuck test run
        ok = False
        try:
            ok = torch.equal(sparse.linear(x, w, threshold=1.0), here)
        except BaseException:
            pass
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"


@pytest.mark.parametrize("threads", ["1", "2"])
def test_kernels_from_a_second_thread_finish_whatever_the_pool_size(threads):
    # With a one-thread pool the importing thread must not be the pool's only thread, or a
    # kernel called from any other thread would wait for it forever.
    import os
    import subprocess
    import sys

    code = (
        "import threading, torch\n"
        "from spikeflow.torch.sparse import linear\n"
        "x = (torch.rand(300, 700) < 0.05).float(); w = torch.randn(90, 700)\n"
        "want = linear(x, w, threshold=1.0)\n"
        "out = []\n"
        "th = threading.Thread(target=lambda: out.append(linear(x, w, threshold=1.0)))\n"
        "th.start(); th.join()\n"
        "assert torch.equal(out[0], want)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "RAYON_NUM_THREADS": threads}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
