"""The fused LIF: one Rust call runs all ``T`` steps forward, one runs them backward.

Equal to the step-by-step reference (:func:`spikeflow.torch.functional.lif` with
``fused=False``) in spikes, final membrane and gradients, but it keeps only the pre-reset
membrane for the backward pass and makes no per-step Python calls.
"""
from __future__ import annotations

import functools

import torch

from spikeflow.torch import _kernels
from spikeflow.torch.functional import LIFState
from spikeflow.torch.params import LIFParameters

__all__ = ["lif_fused", "prepare", "unsupported"]


@functools.lru_cache(maxsize=256)
def _scalar(value: float) -> torch.Tensor:
    """A plain-number parameter as the 1-element float32 tensor the kernels read (made once:
    a LIF layer's parameters are converted on every call, forward and backward)."""
    return torch.tensor([value], dtype=torch.float32)


def _param(value: object, feature_shape: torch.Size) -> tuple[torch.Tensor | None, str]:
    if not isinstance(value, torch.Tensor):
        return _scalar(float(value)), ""  # type: ignore[arg-type]
    t = value
    if t.requires_grad:
        return None, "a learnable parameter (gradient w.r.t. beta/threshold)"
    t = t.detach().to(torch.float32)
    if t.numel() == 1:
        return t.reshape(1), ""
    try:
        return torch.broadcast_to(t, feature_shape).reshape(-1).contiguous(), ""
    except RuntimeError:
        return None, f"a parameter of shape {tuple(t.shape)} not broadcastable to {tuple(feature_shape)}"


def _params(x: torch.Tensor, p: LIFParameters) -> tuple[list | None, str]:
    out = []
    for name in ("beta", "v_th", "v_reset", "bias"):
        t, why = _param(getattr(p, name), x.shape[2:])
        if t is None:
            return None, f"{name} is {why}"
        out.append(t)
    return out, ""


def prepare(x: torch.Tensor, state: LIFState | None, p: LIFParameters) -> tuple[list | None, str | None]:
    """The kernel's parameter tensors and ``None``, or ``None`` and why the fused kernel cannot
    run on these arguments (pass the tensors on to :func:`lif_fused`)."""
    if not _kernels.available():
        return None, "the compiled spikeflow kernels are missing"
    if x.device.type != "cpu":
        return None, f"the input is on {x.device} (the kernel runs on CPU)"
    if x.dtype != torch.float32:
        return None, f"the input is {x.dtype} (the kernel needs float32)"
    if state is not None and (state.v.shape != x.shape[1:] or state.v.device != x.device):
        return None, "the state does not match the input's shape or device"
    if torch.is_grad_enabled() and torch._C._functorch.is_functorch_wrapped_tensor(x):
        return None, "the input is a functorch-transformed tensor"
    prm, why = _params(x, p)
    return prm, why or None


def unsupported(x: torch.Tensor, state: LIFState | None, p: LIFParameters) -> str | None:
    """Why the fused kernel cannot run on these arguments, or ``None`` if it can."""
    return prepare(x, state, p)[1]


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, v0: torch.Tensor, p: LIFParameters, prm: list):  # type: ignore[override]
        beta, v_th, v_reset, bias = prm
        per_feature = any(t.numel() > 1 for t in prm)
        if per_feature or not _kernels.is_dense(x) or x.stride(0) != x[0].numel():
            x = x.contiguous()
        t_steps = x.shape[0]
        z = _kernels.empty_like(x)
        h = _kernels.empty_like(x)
        v = torch.empty_like(x[0])
        v.copy_(v0)
        _kernels.lif_forward(x, t_steps, beta, v_th, v_reset, bias, p.reset == "subtract", v, z, h)
        ctx.save_for_backward(h)
        ctx.p, ctx.prm = p, prm
        ctx.set_materialize_grads(False)
        return z, v

    @staticmethod
    def backward(ctx, gz: torch.Tensor | None, gv: torch.Tensor | None):  # type: ignore[override]
        (h,) = ctx.saved_tensors
        p: LIFParameters = ctx.p
        beta, v_th, v_reset, _ = ctx.prm
        if gz is None:
            gz_l = torch.zeros_like(h)
        elif gz.stride() == h.stride():
            gz_l = gz
        else:
            gz_l = _kernels.empty_like(h)
            gz_l.copy_(gz)
        g_v = torch.empty_like(h[0])
        if gv is None:
            g_v.zero_()
        else:
            g_v.copy_(gv)
        gx = _kernels.empty_like(h)
        _kernels.lif_backward(
            gz_l, h, h.shape[0], beta, v_th, v_reset, p.reset == "subtract",
            p.surrogate.code, p.surrogate.alpha, p.detach_reset, g_v, gx,
        )
        return gx, g_v, None, None


def lif_fused(
    x: torch.Tensor, state: LIFState | None, p: LIFParameters, prm: list | None = None
) -> tuple[torch.Tensor, LIFState]:
    """LIF over ``x[T, B, ...]`` with the Rust kernel; see :func:`spikeflow.torch.functional.lif`.

    ``prm``: the parameter tensors :func:`prepare` returned for these arguments (made here
    when not given)."""
    if prm is None:
        prm, why = _params(x, p)
        if prm is None:
            raise ValueError(f"the fused LIF kernel does not apply: {why}")
    v0 = state.v if state is not None else torch.zeros((), dtype=x.dtype).expand(x.shape[1:])
    z, v = _FusedLIF.apply(x, v0, p, prm)
    return z, LIFState(v)
