"""Typed wrappers of the private ``spikeflow._core.kernels_*`` functions on torch tensors.

Tensors are handed to Rust as 1-D numpy views of their memory (no copy); callers make sure
each tensor is dense (see :func:`flat`) and allocate the outputs.
"""
from __future__ import annotations

import numpy as np
import torch

try:
    from spikeflow import _core
except ImportError:  # pragma: no cover - the extension is always built in practice
    _core = None  # type: ignore[assignment]

__all__ = ["Csr", "available", "flat", "is_dense"]

Csr = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def available() -> bool:
    """Whether the compiled kernels are present."""
    return _core is not None and hasattr(_core, "kernels_lif_forward")


def is_dense(t: torch.Tensor) -> bool:
    """Whether ``t`` covers one block of memory with no gaps or overlaps (any dim order)."""
    if t.is_contiguous():
        return True
    dims = sorted((s, n) for s, n in zip(t.stride(), t.shape) if n != 1)
    expected = 1
    for s, n in dims:
        if s != expected:
            return False
        expected *= n
    return True


def flat(t: torch.Tensor) -> np.ndarray:
    """A 1-D float32/int numpy view of a dense CPU tensor's memory, in memory order."""
    t = t.detach()
    if not t.is_contiguous():
        if not is_dense(t):
            raise ValueError("internal: tensor memory is not dense")
        t = torch.as_strided(t, (t.numel(),), (1,), t.storage_offset())
    return t.reshape(-1).numpy()


def empty(*shape: int) -> torch.Tensor:
    """An uninitialised contiguous float32 CPU tensor; large ones reuse cached memory.

    The memory goes back to the cache when the tensor is freed, so per-step tensors of the
    same sizes stop paying for fresh page faults every step.
    """
    n = 1
    for d in shape:
        n *= int(d)
    return torch.from_numpy(_core.kernels_empty(n)).view(*shape)


def empty_like(x: torch.Tensor) -> torch.Tensor:
    """:func:`empty` with the shape and (dense) memory layout of ``x``."""
    flat_t = torch.from_numpy(_core.kernels_empty(x.numel()))
    if x.is_contiguous():
        return flat_t.view(x.shape)
    return torch.as_strided(flat_t, x.shape, x.stride())


def cache_clear() -> None:
    """Release the cached buffers."""
    _core.kernels_pool_clear()


def cache_bytes() -> int:
    """Bytes of memory held by the buffer cache."""
    return int(_core.kernels_pool_bytes())


def transposed(w: torch.Tensor) -> torch.Tensor:
    """``w.t().contiguous()`` for a 2-D float32 tensor, into a cached buffer."""
    w = w.detach()
    if not w.is_contiguous():
        return w.t().contiguous()
    rows, cols = w.shape
    out = empty(cols, rows)
    _core.kernels_transpose(flat(w), rows, cols, flat(out))
    return out


def narrow_matmul(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``g [R, N] @ w [N, K]`` for contiguous float32 tensors with a small ``N``."""
    rows, n = g.shape
    k = w.shape[1]
    out = empty(rows, k)
    _core.kernels_narrow_matmul(flat(g), rows, n, flat(w.detach()), k, flat(out))
    return out


def column_sums(x: torch.Tensor) -> torch.Tensor:
    """``x.sum(0)`` of a contiguous 2-D float32 tensor."""
    rows, cols = x.shape
    out = torch.empty(cols, dtype=torch.float32)
    _core.kernels_column_sums(flat(x), rows, cols, flat(out))
    return out


def _f32(values: torch.Tensor) -> np.ndarray:
    return flat(values.to(torch.float32).contiguous())


def lif_forward(
    x: torch.Tensor, t_steps: int, beta: torch.Tensor, v_th: torch.Tensor,
    v_reset: torch.Tensor, bias: torch.Tensor, subtract: bool,
    v: torch.Tensor, z: torch.Tensor, h: torch.Tensor,
) -> None:
    """Fused LIF forward over all steps (``v`` in: initial, out: final; ``z``, ``h`` out)."""
    _core.kernels_lif_forward(
        flat(x), t_steps, _f32(beta), _f32(v_th), _f32(v_reset), _f32(bias), subtract,
        flat(v), flat(z), flat(h),
    )


def lif_backward(
    gz: torch.Tensor, h: torch.Tensor, t_steps: int, beta: torch.Tensor, v_th: torch.Tensor,
    v_reset: torch.Tensor, subtract: bool, surrogate: int, alpha: float, detach_reset: bool,
    gv: torch.Tensor, gx: torch.Tensor,
) -> None:
    """Fused LIF backward (``gv`` in: grad of final membrane, out: grad of initial)."""
    _core.kernels_lif_backward(
        flat(gz), flat(h), t_steps, _f32(beta), _f32(v_th), _f32(v_reset), subtract,
        surrogate, float(alpha), detach_reset, flat(gv), flat(gx),
    )


def csr_from_dense(x: torch.Tensor, max_nnz: int) -> Csr | None:
    """The CSR event list of a contiguous 2-D float32 tensor, or ``None`` if over ``max_nnz``."""
    rows, cols = x.shape
    out = _core.kernels_csr_from_dense(flat(x), rows, cols, max(int(max_nnz), 0))
    if out is None:
        return None
    return tuple(torch.from_numpy(a) for a in out)  # type: ignore[return-value]


def csr_matmul(
    csr: Csr, rows: int, cols: int, wt: torch.Tensor, bias: torch.Tensor | None,
    out: torch.Tensor,
) -> None:
    """``out [R, N] = X [R, K] @ wt [K, N] (+ bias)`` from X's events."""
    indptr, indices, values = csr
    _core.kernels_csr_matmul(
        rows, cols, indptr.numpy(), indices.numpy(), values.numpy(), flat(wt), wt.shape[1],
        None if bias is None else _f32(bias.detach()), flat(out),
    )


def csr_t_matmul(csr: Csr, rows: int, cols: int, g: torch.Tensor, gwt: torch.Tensor) -> None:
    """``gwt [K, N] = X^T @ g [R, N]`` from X's events."""
    indptr, indices, values = csr
    _core.kernels_csr_t_matmul(
        rows, cols, indptr.numpy(), indices.numpy(), values.numpy(), flat(g), g.shape[1],
        flat(gwt),
    )


def csr_grad_weight(csr: Csr, rows: int, cols: int, g: torch.Tensor, gw: torch.Tensor) -> None:
    """``gw [N, K] = g^T @ X`` (torch's weight layout) from X's events."""
    indptr, indices, values = csr
    _core.kernels_csr_grad_weight(
        rows, cols, indptr.numpy(), indices.numpy(), values.numpy(), flat(g), g.shape[1],
        flat(gw),
    )


Geometry = tuple[int, int, int, int, int, int, int, int, bool]


def conv_forward(
    csr: Csr, rows: int, geometry: Geometry, w_perm: torch.Tensor,
    bias: torch.Tensor | None, out: torch.Tensor,
) -> None:
    """Channels-last ``out [R, HO, WO, O]`` of a convolution from the input's events."""
    indptr, indices, values = csr
    _core.kernels_conv_forward(
        rows, indptr.numpy(), indices.numpy(), values.numpy(), geometry, flat(w_perm),
        None if bias is None else _f32(bias.detach()), flat(out),
    )


def conv_weight_grad(
    csr: Csr, rows: int, geometry: Geometry, g: torch.Tensor, gw_perm: torch.Tensor
) -> None:
    """Weight gradient ``[C, KH, KW, O]`` from the input's events and channels-last ``g``."""
    indptr, indices, values = csr
    _core.kernels_conv_weight_grad(
        rows, indptr.numpy(), indices.numpy(), values.numpy(), geometry, flat(g), flat(gw_perm)
    )


PoolGeometry = tuple[int, int, int, int, int, bool]


def avgpool_forward(geometry: PoolGeometry, x: torch.Tensor, out: torch.Tensor) -> None:
    """Average pooling (window = stride) of dense ``x`` into ``out`` (same layout)."""
    _core.kernels_avgpool_forward(geometry, flat(x), flat(out))


def avgpool_backward(geometry: PoolGeometry, g: torch.Tensor, gx: torch.Tensor) -> None:
    """Gradient of :func:`avgpool_forward`."""
    _core.kernels_avgpool_backward(geometry, flat(g), flat(gx))
