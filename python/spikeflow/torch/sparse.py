"""Event-driven Linear and Conv2d products for sparse (spike) inputs, forward and weight gradient.

The input is scanned once into a CSR event list (in Rust); the output is accumulated from the
weight rows the events select, and the weight gradient from the output-gradient rows — work
proportional to the number of spikes. Above ``threshold`` density (non-zero fraction) the
dense torch path runs instead; both give the same values (up to float32 summation order).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from spikeflow.torch import _kernels

__all__ = ["DEFAULT_THRESHOLD", "conv2d", "linear"]

#: Default density (fraction of non-zeros) above which the dense path is used.
DEFAULT_THRESHOLD = 0.15

#: Layers with at most this many outputs compute their input gradient in Rust (a readout's
#: ``g [R, 10] @ W [10, K]``): BLAS gains nothing from so short an inner dimension, and in
#: the B4 training step its thread wake-up cost ~2 ms for a 0.1 ms product.
NARROW = 32


def _eligible(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        _kernels.available()
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and not torch._C._functorch.is_functorch_wrapped_tensor(x)
    )


def _input_major(weight: torch.Tensor) -> bool:
    """Whether ``weight [N, K]`` is stored input-major (``weight.t()`` is contiguous)."""
    return weight.dim() == 2 and weight.t().is_contiguous() and not weight.is_contiguous()


class _EventLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, weight, bias, indptr, indices, values):  # type: ignore[override]
        rows, cols = x2.shape
        # The event loop reads one weight row [N] per input event; an input-major weight
        # (e.g. the transpose of a tied [in, out] matrix) already is those rows, otherwise
        # transpose once.
        wt = weight.detach().t() if _input_major(weight) else _kernels.transposed(weight)
        out = _kernels.empty(rows, weight.shape[0])
        csr = (indptr, indices, values)
        _kernels.csr_matmul(csr, rows, cols, wt, bias, out)
        ctx.save_for_backward(weight, indptr, indices, values)
        ctx.shape = (rows, cols)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        weight, indptr, indices, values = ctx.saved_tensors
        rows, cols = ctx.shape
        g = g.contiguous()
        gx = gw = gb = None
        csr = (indptr, indices, values)
        if ctx.needs_input_grad[0]:
            if weight.shape[0] <= NARROW and weight.is_contiguous():
                gx = _kernels.narrow_matmul(g, weight)
            else:
                gx = g @ weight
        if ctx.needs_input_grad[1]:
            if _input_major(weight):
                # the gradient in the weight's own layout, so autograd keeps it as it is
                gwt = _kernels.empty(cols, weight.shape[0])
                _kernels.csr_t_matmul(csr, rows, cols, g, gwt)
                gw = gwt.t()
            else:
                gw = _kernels.empty(weight.shape[0], cols)
                _kernels.csr_grad_weight(csr, rows, cols, g, gw)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = _kernels.column_sums(g)
        return gx, gw, gb, None, None, None


def linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> torch.Tensor:
    """``F.linear`` over the last axis of ``x``, event-driven when ``x`` is sparse enough.

    Sparse when the fraction of non-zeros is at most ``threshold`` (``0`` forces dense,
    ``1`` always sparse).
    """
    if threshold <= 0 or not _eligible(x, weight) or x.numel() == 0:
        return F.linear(x, weight, bias)
    lead, k = x.shape[:-1], x.shape[-1]
    x2 = x.reshape(-1, k)
    if not x2.is_contiguous():
        x2 = x2.contiguous()
    csr = _kernels.csr_from_dense(x2, int(threshold * x2.numel()))
    if csr is None:
        return F.linear(x, weight, bias)
    out = _EventLinear.apply(x2, weight, bias, *csr)
    return out.reshape(*lead, weight.shape[0])


def _pair(v: object) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    a, b = v  # type: ignore[misc]
    return int(a), int(b)


class _EventConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x4, weight, bias, stride, padding, channels_last, indptr, indices, values):  # type: ignore[override]
        r, c, h, w = x4.shape
        o, _, kh, kw = weight.shape
        geometry = (c, h, w, o, kh, kw, stride, padding, channels_last)
        ho = (h + 2 * padding - kh) // stride + 1
        wo = (w + 2 * padding - kw) // stride + 1
        w_perm = weight.detach().permute(1, 2, 3, 0).contiguous()
        out = _kernels.empty(r, ho, wo, o)
        csr = (indptr, indices, values)
        _kernels.conv_forward(csr, r, geometry, w_perm, bias, out)
        ctx.save_for_backward(weight, indptr, indices, values)
        ctx.meta = (x4.shape, geometry, stride, padding, bias is not None)
        return out.permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        weight, indptr, indices, values = ctx.saved_tensors
        xshape, geometry, stride, padding, has_bias = ctx.meta
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            # a placeholder input (never read) in the input's layout: mkldnn then returns the
            # gradient in that layout and takes a channels-last g without conversions
            fmt = torch.channels_last if geometry[-1] else torch.contiguous_format
            placeholder = torch.empty(xshape, memory_format=fmt)
            w = weight.contiguous(memory_format=fmt)
            gx = torch.ops.aten.convolution_backward(
                g, placeholder, w, None, (stride, stride), (padding, padding), (1, 1), False,
                (0, 0), 1, (True, False, False),
            )[0]
        g_cl = g.permute(0, 2, 3, 1)
        if not g_cl.is_contiguous():
            g_cl = g_cl.contiguous()
        if ctx.needs_input_grad[1]:
            c, _, _, o, kh, kw, _, _, _ = geometry
            gw_perm = torch.empty(c, kh, kw, o, dtype=torch.float32)
            _kernels.conv_weight_grad((indptr, indices, values), xshape[0], geometry, g_cl, gw_perm)
            gw = gw_perm.permute(3, 0, 1, 2)
        if has_bias and ctx.needs_input_grad[2]:
            gb = _kernels.column_sums(g_cl.reshape(-1, g_cl.shape[-1]))
        return gx, gw, gb, None, None, None, None, None, None


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
) -> torch.Tensor:
    """``F.conv2d`` of ``x [R, C, H, W]``, event-driven when ``x`` is sparse enough.

    The event-driven output is channels-last in memory (logical shape unchanged).
    """
    sy, sx = _pair(stride)
    py, px = _pair(padding)
    if (
        threshold <= 0
        or sy != sx
        or py != px
        or not _eligible(x, weight)
        or x.numel() == 0
        or x.dim() != 4
    ):
        return F.conv2d(x, weight, bias, stride=(sy, sx), padding=(py, px))
    if x.is_contiguous():
        x4, channels_last = x, False
    elif x.is_contiguous(memory_format=torch.channels_last):
        x4, channels_last = x, True
    else:
        x4, channels_last = x.contiguous(), False
    rows = x4.shape[0]
    mem = torch.as_strided(x4, (rows, x4[0].numel()), (x4[0].numel(), 1), x4.storage_offset())
    csr = _kernels.csr_from_dense(mem, int(threshold * x4.numel()))
    if csr is None:
        return F.conv2d(x, weight, bias, stride=sy, padding=py)
    return _EventConv.apply(x4, weight, bias, sy, py, channels_last, *csr)
