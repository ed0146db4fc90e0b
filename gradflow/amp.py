"""Mixed precision, as ``torch.amp``: :class:`autocast`, :class:`GradScaler` and, for a model
stored in float16/bfloat16 itself, :class:`MasterParams` (float32 master copies).

PyTorch's recipe, which gradflow follows: keep the parameters in float32, run the forward
under ``autocast`` (matmul/linear/conv run in the low dtype on float32 weights cast on the fly,
losses in float32), so every gradient reaching a parameter is float32 already. With float16 also
scale the loss so small gradients do not flush to zero::

    scaler = gf.amp.GradScaler()
    for x, y in loader:
        opt.zero_grad()
        with gf.amp.autocast("cpu", dtype=gf.float16):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)      # unscales, skips the step if a gradient is inf/NaN
        scaler.update()       # backoff on overflow, growth after growth_interval clean steps

Autocast's op lists (``LOWER_PRECISION``, ``FLOAT32``) are PyTorch's CPU lists restricted to
the ops gradflow has. As on PyTorch's CPU, softmax, log_softmax, the norms and the reductions are
not cast: they run in their input's dtype (computing internally in float32, see
:func:`gradflow.dtypes.compute_in_float32`), so under autocast ``softmax(linear(x))`` is
bfloat16 and ``cross_entropy(linear(x), y)`` float32. (PyTorch's CUDA autocast also runs
softmax and the norms in float32; gradflow uses the CPU lists on both devices.)
"""

from __future__ import annotations

import functools
import math
import threading
import warnings
from collections.abc import Iterable
from typing import Any

from gradflow.dtypes import as_dtype, bfloat16, float16, float32, is_floating

__all__ = ["autocast", "GradScaler", "MasterParams", "is_autocast_available",
           "is_autocast_enabled", "get_autocast_dtype", "LOWER_PRECISION", "FLOAT32"]

#: ops that run in the autocast dtype (their float32 inputs are cast down)
LOWER_PRECISION = frozenset({"matmul", "mm", "bmm", "linear", "conv1d", "conv2d", "conv3d",
                             "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})
_LOSSES = {"cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "kl_div", "binary_cross_entropy", "binary_cross_entropy_with_logits"}
#: ops that run in float32 (their float16/bfloat16 inputs are cast up), per device type
FLOAT32 = {"cpu": frozenset(_LOSSES), "cuda": frozenset(_LOSSES)}
_DEFAULT = {"cpu": bfloat16, "cuda": float16}


class _State(threading.local):
    """Per-thread autocast state: ``on`` is read by every autocast-listed op (one attribute
    read when autocast is off)."""

    on = False
    dtypes: dict | None = None  # device type -> low dtype, for the enabled device types
    cache: dict | None = None  # id(leaf weight) -> (weight, its low-precision cast)


STATE = _State()


def is_autocast_available(device_type: str) -> bool:
    return device_type in _DEFAULT


def is_autocast_enabled(device_type: str = "cpu") -> bool:
    return bool(STATE.dtypes) and device_type in STATE.dtypes


def get_autocast_dtype(device_type: str = "cpu"):
    """The dtype autocast uses on ``device_type`` (its default when not enabled: bfloat16 on
    the CPU, float16 on CUDA)."""
    if STATE.dtypes and device_type in STATE.dtypes:
        return STATE.dtypes[device_type]
    return _DEFAULT[_check_device(device_type)]


def _check_device(device_type: str) -> str:
    if device_type not in _DEFAULT:
        raise RuntimeError(f"autocast: device_type must be 'cpu' or 'cuda', got "
                           f"{device_type!r}")
    return device_type


class autocast:  # noqa: N801 - PyTorch's name
    """Run the ops in :data:`LOWER_PRECISION` in ``dtype`` and those in :data:`FLOAT32` in
    float32, for tensors on ``device_type`` (PyTorch's ``torch.autocast``).

    A context manager or a decorator; nests (an inner ``enabled=False`` turns it off). Casts
    are differentiable, so float32 parameters receive float32 gradients. With
    ``cache_enabled`` the cast of a leaf tensor that requires grad (a weight) is made once per
    outermost region. float64 tensors are never cast (as PyTorch).
    """

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool = True):
        self.device_type = _check_device(device_type)
        dt = _DEFAULT[device_type] if dtype is None else as_dtype(dtype)
        self.enabled = bool(enabled)
        if dt not in (float16, bfloat16):  # PyTorch warns and runs without autocast
            warnings.warn(f"autocast: dtype {dt} is not supported (only gf.float16 and "
                          "gf.bfloat16); disabling autocast", UserWarning, stacklevel=2)
            dt, self.enabled = _DEFAULT[device_type], False
        self.fast_dtype = dt
        self.cache_enabled = bool(cache_enabled)
        self._saved: list = []

    def __enter__(self) -> autocast:
        self._saved.append((STATE.on, STATE.dtypes, STATE.cache))
        dtypes = dict(STATE.dtypes or {})
        if self.enabled:
            dtypes[self.device_type] = self.fast_dtype
        else:
            dtypes.pop(self.device_type, None)
        STATE.dtypes = dtypes
        STATE.on = bool(dtypes)
        if STATE.on and STATE.cache is None and self.cache_enabled:
            STATE.cache = {}
        elif not self.cache_enabled:
            STATE.cache = None
        return self

    def __exit__(self, *exc) -> None:
        STATE.on, STATE.dtypes, STATE.cache = self._saved.pop()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)

        return wrapper


def _device_type(t) -> str:
    return "cpu" if t._backend.name == "numpy" else "cuda"


def cast(op: str, *args):
    """``args`` as autocast runs ``op`` (called by the listed ops when ``STATE.on``): Tensors
    on an autocast-enabled device cast to its low dtype (``LOWER_PRECISION`` ops) or float32
    (``FLOAT32`` ops); everything else unchanged."""
    from gradflow.tensor import Tensor

    dtypes = STATE.dtypes
    out = []
    for a in args:
        if isinstance(a, Tensor) and is_floating(a.dtype) and a.dtype.itemsize < 8:
            dev = _device_type(a)
            if dev in dtypes:
                if op in LOWER_PRECISION:
                    a = _cached(a, dtypes[dev])
                elif op in FLOAT32[dev] and a.dtype != float32:
                    a = a.to(dtype=float32)
        out.append(a)
    return tuple(out)


def _cached(a, dt):
    if a.dtype == dt:
        return a
    cache = STATE.cache
    if cache is None or not (a.is_leaf and a.requires_grad):
        return a.to(dtype=dt)
    hit = cache.get(id(a))
    if hit is None or hit[0] is not a or hit[2] != a._version or hit[1].dtype != dt:
        hit = (a, a.to(dtype=dt), a._version)
        cache[id(a)] = hit
    return hit[1]


class GradScaler:
    """Loss scaling for float16 training (PyTorch's ``torch.amp.GradScaler``).

    ``scale(loss)`` multiplies by the scale S; ``unscale_(opt)`` divides the optimizer's
    gradients by S in place and records whether any is inf/NaN; ``step(opt)`` unscales (once),
    then steps unless a non-finite gradient was found; ``update()`` sets S ← S·backoff_factor
    after an overflow, S ← S·growth_factor after ``growth_interval`` consecutive clean steps.

    The scale is a Python float (``device`` is accepted for PyTorch's signature; gradflow
    scales on any device). As PyTorch, float16 gradients are refused: keep float32
    parameters (autocast) or use :class:`MasterParams`.
    """

    _READY, _UNSCALED, _STEPPED = 0, 1, 2

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True):
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got "
                             f"{backoff_factor}")
        if int(growth_interval) <= 0:
            raise ValueError(f"GradScaler: growth_interval must be a positive int, got "
                             f"{growth_interval}")
        self._device = device
        self._enabled = bool(enabled)
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer: dict[int, dict] = {}

    # --- scaling ------------------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a Tensor or nested lists/tuples of them) times the current scale."""
        if not self._enabled:
            return outputs
        from gradflow.tensor import Tensor

        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError(f"GradScaler.scale: outputs must be a Tensor or an iterable of "
                         f"Tensors, got {type(outputs).__name__}")

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer),
                                              {"stage": self._READY, "found_inf": None})

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale, in place (call before clipping)."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] is self._UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if state["stage"] is self._STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        from gradflow.autograd.grad_mode import no_grad

        inv = 1.0 / self._scale
        found = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    if g.dtype == float16:
                        raise ValueError("Attempting to unscale FP16 gradients: keep the "
                                         "parameters in float32 (autocast) or use "
                                         "gf.amp.MasterParams")
                    g.mul_(inv)
                    if not found and not bool(g.isfinite().all()):
                        found = True
        state["found_inf"] = found
        state["stage"] = self._UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` on unscaled gradients, skipped (returning None)
        when one of them is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        state = self._state(optimizer)
        if state["stage"] is self._STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is self._READY:
            self.unscale_(optimizer)
        state["stage"] = self._STEPPED
        if state["found_inf"]:
            return None
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | None = None) -> None:
        """Adjust the scale from this iteration's inf checks (or set it to ``new_scale``)."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        else:
            found = [s["found_inf"] for s in self._per_optimizer.values()
                     if s["found_inf"] is not None]
            if not found:  # PyTorch's AssertionError
                raise AssertionError("No inf checks were recorded prior to update(): call "
                                     "scaler.step(optimizer) (or unscale_) first")
            if any(found):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = self._scale * self._growth_factor
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
        self._per_optimizer = {}

    # --- accessors and state ------------------------------------------------------------------
    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """PyTorch's keys (empty when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])


class MasterParams:
    """float32 master copies of a model stored in float16/bfloat16 (for when even the weights
    must be low precision; otherwise prefer float32 parameters under :class:`autocast`).

    Give ``parameters()`` (the float32 copies) to the optimizer; after ``backward`` call
    ``copy_grads_to_master()`` (the model's gradients, in float32), step, then
    ``copy_master_to_model()`` (the updated weights rounded into the model)::

        model.half()
        master = gf.amp.MasterParams(model.parameters())
        opt = gf.optim.SGD(master.parameters(), lr=0.1)
        scaler.scale(loss).backward()
        master.copy_grads_to_master()
        scaler.step(opt); scaler.update()
        master.copy_master_to_model()
        model.zero_grad()
    """

    def __init__(self, params: Iterable):
        from gradflow.nn import Parameter

        self.model_params = [p for p in params if p.requires_grad]
        self.master = [Parameter(p.detach().to(dtype=float32).clone())
                       for p in self.model_params]

    def parameters(self) -> list:
        return list(self.master)

    def copy_grads_to_master(self) -> None:
        for p, m in zip(self.model_params, self.master):
            m.grad = None if p.grad is None else p.grad.detach().to(dtype=float32).clone()

    def copy_master_to_model(self) -> None:
        from gradflow.autograd.grad_mode import no_grad

        with no_grad():
            for p, m in zip(self.model_params, self.master):
                p.copy_(m)
