"""``gradflow info``: what this installation has (versions, backends, devices, extras)."""

from __future__ import annotations

import os
import platform
import shutil
import sys

__all__ = ["environment_rows", "package_version"]


def environment_rows() -> list[tuple[str, str]]:
    """``(what, value)`` rows: versions, backends, devices and the optional packages."""
    import numpy as np

    import gradflow as gf
    from gradflow.dtypes import DEFAULT_FLOAT

    rows = [("gradflow", f"{gf.__version__} ({os.path.dirname(gf.__file__)})"),
            ("python", f"{platform.python_version()} ({sys.executable})"),
            ("platform", platform.platform()),
            ("numpy", np.__version__),
            ("cupy", package_version("cupy") or "not installed"),
            ("default dtype", str(DEFAULT_FLOAT)),
            ("backend cpu", f"numpy, device 'cpu' ({os.cpu_count()} CPU cores)")]
    if gf.cuda.is_available():
        rows.append(("backend cuda", f"cupy, {gf.cuda.device_count()} device(s)"))
        rows += [(f"  cuda:{i}", name) for i, name in enumerate(_cuda_device_names())]
    else:
        rows.append(("backend cuda", f"unavailable: {gf.cuda.unavailable_reason()}"))
    rows.append(("device 'auto'", "cuda:0" if gf.cuda.is_available() else "cpu"))
    for name, use in (("scikit-learn", "digits"), ("matplotlib", "curves.png"),
                      ("tqdm", "progress bars"), ("tensorboardX", "--logger tensorboard"),
                      ("mlflow", "--logger mlflow"), ("wandb", "--logger wandb"),
                      ("dvclive", "--logger dvclive"), ("graphviz", "graph drawing")):
        rows.append((name, f"{package_version(name) or 'not installed'} ({use})"))
    rows.append(("dot (Graphviz)", shutil.which("dot") or "not found (SVG/PNG graphs)"))
    return rows

def package_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    names = [dist] + (["cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x"] if dist == "cupy" else [])
    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None

def _cuda_device_names() -> list[str]:
    """``"<name>, <memory> GiB"`` per CUDA device (``"?"`` where CuPy cannot say)."""
    import cupy

    names = []
    for i in range(cupy.cuda.runtime.getDeviceCount()):
        try:
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            names.append(f"{name}, {props['totalGlobalMem'] / 2**30:.1f} GiB")
        except Exception as exc:  # noqa: BLE001 - info must not fail on one device's details
            names.append(f"? ({type(exc).__name__}: {exc})")
    return names
