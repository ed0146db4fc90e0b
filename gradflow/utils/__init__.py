"""PyTorch's ``torch.utils`` namespace: ``gradflow.utils.data`` is :mod:`gradflow.data` itself
(the same module object, registered under both names)."""

import sys

from gradflow import data

sys.modules[__name__ + ".data"] = data

__all__ = ["data"]
