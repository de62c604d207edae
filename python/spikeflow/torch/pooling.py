"""Average pooling (window = stride) in Rust, in the input's own layout (NCHW or NHWC).

Equal to ``F.avg_pool2d(x, k)``; it keeps channels-last tensors channels-last and reuses
cached memory for its outputs, where torch would convert layouts and fault in fresh pages.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from spikeflow.torch import _kernels

__all__ = ["avg_pool2d"]


def _layout(x: torch.Tensor) -> bool | None:
    """``False``: NCHW contiguous, ``True``: channels-last, ``None``: neither."""
    if x.is_contiguous():
        return False
    if x.is_contiguous(memory_format=torch.channels_last):
        return True
    return None


class _AvgPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, k: int, channels_last: bool):  # type: ignore[override]
        r, c, h, w = x.shape
        geometry = (r, c, h, w, k, channels_last)
        ho, wo = h // k, w // k
        if channels_last:
            out = _kernels.empty(r, ho, wo, c).permute(0, 3, 1, 2)
        else:
            out = _kernels.empty(r, c, ho, wo)
        _kernels.avgpool_forward(geometry, x, out)
        ctx.geometry, ctx.shape = geometry, x.shape
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        r, c, h, w, k, channels_last = ctx.geometry
        if channels_last:
            g = g if g.is_contiguous(memory_format=torch.channels_last) else g.contiguous(
                memory_format=torch.channels_last)
            gx = _kernels.empty(r, h, w, c).permute(0, 3, 1, 2)
        else:
            g = g.contiguous()
            gx = _kernels.empty(r, c, h, w)
        _kernels.avgpool_backward(ctx.geometry, g, gx)
        return gx, None, None


def avg_pool2d(x: torch.Tensor, k: int) -> torch.Tensor:
    """``F.avg_pool2d(x, k)`` for ``x [R, C, H, W]`` (window = stride = ``k``, no padding)."""
    layout = _layout(x) if x.dim() == 4 else None
    if (
        layout is None
        or not _kernels.available()
        or x.device.type != "cpu"
        or x.dtype != torch.float32
        or x.numel() == 0
        or k > min(x.shape[2], x.shape[3])
    ):
        return F.avg_pool2d(x, k)
    return _AvgPool.apply(x, k, layout)
