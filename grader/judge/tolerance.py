"""How close a learner's tensor must be to torch's: the one tolerance every check and diagnosis uses."""
from __future__ import annotations

import math

import torch


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing with torch's own result, for values of order 1 (see `allowed_error`).

    Each sits far from both what a correct computation in another order costs and what a mistake
    costs, so that no verdict depends on the seed:
    - float64: reordering costs about 1e-14 here (measured over many seeds, the worst at
      well under 1e-3 of this tolerance), a detour through float32 about 1e-8 (the old 1e-7 sat
      right on it: such a detour passed on some seeds and failed on others). 1e-10 keeps both
      four orders of magnitude away.
    - float32: reordering costs about 1e-6 (at most a tenth of this tolerance over many seeds,
      once the values' magnitude is allowed for); a mistake at least 1e-2.
    """
    return (1e-10, 1e-12) if dtype == torch.float64 else (2e-4, 2e-5)


def allowed_error(want: torch.Tensor, scale: torch.Tensor | float | None = None) -> torch.Tensor:
    """How far each element may be from `want`: rtol * |want| + atol * scale.

    Rounding errors grow with the size of what was added up, not with the result (a sum that
    cancels to nearly 0 keeps the rounding of its terms), so the absolute part is scaled: by
    `scale` when a check knows the size of its terms per element (a product of matrices: the
    product of their absolute values), otherwise by the largest |want| of the tensor, never
    below 1 (values of order 1 keep atol; a relu layer whose states grew to 50 gets 50 * atol).
    """
    rtol, atol = tolerance(want.dtype)
    magnitude = want.detach().abs().double()
    if scale is None:
        top = float(magnitude.max()) if magnitude.numel() else 1.0
        scale = max(1.0, top) if math.isfinite(top) else 1.0
    if isinstance(scale, torch.Tensor):
        scale = scale.detach().double().to(magnitude.device)
    return rtol * magnitude + atol * scale


def close(got: torch.Tensor, want: torch.Tensor, scale: torch.Tensor | float | None = None) -> torch.Tensor:
    """Elementwise: got is within `allowed_error` of want (NaN matches NaN, infinities match themselves)."""
    g, w = got.detach().double(), want.detach().double()
    both_nan = g.isnan() & w.isnan()
    same = g == w  # equal infinities, and exact agreement
    return both_nan | same | ((g - w).abs() <= allowed_error(want, scale))
