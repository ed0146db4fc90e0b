"""Autograd: Functions and their Contexts, the backward engine, grad modes."""

from gradflow.autograd.engine import backward, grad
from gradflow.autograd.function import Context, Function
from gradflow.autograd.grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = ["Context", "Function", "backward", "grad", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled",
           "inference_mode", "is_inference_mode_enabled"]
