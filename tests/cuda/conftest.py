"""tests/cuda: the kernel compile check and CPU emulation helpers live beside the tests."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

# JAX (the DLPack test) must not pre-allocate most of the GPU that CuPy and PyTorch share with it.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
