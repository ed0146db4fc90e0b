"""Devices and backends: parsing, the CPU fallback, CUDA availability, mixed-device errors, and
the architecture rule that ops never touch NumPy or CuPy directly."""

from __future__ import annotations

import ast
import pathlib
import sys
import types

import numpy as np
import pytest

import gradflow as gf
from gradflow.backends import cuda as cuda_backend
from gradflow.backends import parse_device
from gradflow.backends.numpy_backend import NumpyBackend
from gradflow.tensor import Tensor


def test_parse_device():
    assert parse_device(None) == "cpu"
    assert parse_device("CPU") == "cpu"
    assert parse_device("cuda") == "cuda:0"
    assert parse_device("cuda:3") == "cuda:3"
    expected = "cuda:0" if gf.cuda.is_available() else "cpu"
    assert parse_device("auto") == expected


def test_unknown_device_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="'tpu:0'"):
        gf.zeros(2, device="tpu:0")
    with pytest.raises(ValueError, match="cuda:x"):
        parse_device("cuda:x")


@pytest.mark.skipif(gf.cuda.is_available(), reason="CUDA is usable here; the error path needs none")
def test_cuda_without_gpu_is_a_runtime_error_saying_why():
    with pytest.raises(RuntimeError, match="CUDA is not usable"):
        gf.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="device='cpu' or 'auto'"):
        gf.tensor([1.0]).to("cuda:0")


def test_auto_device_falls_back_to_cpu():
    t = gf.ones(3, device="auto")
    assert t.device == ("cuda:0" if gf.cuda.is_available() else "cpu")


def test_is_available_never_raises_when_driver_is_missing(monkeypatch):
    """CuPy imports fine on a machine without a driver and fails at its first call."""
    fake = types.ModuleType("cupy")

    class _Runtime:
        @staticmethod
        def getDeviceCount():  # noqa: N802 - CuPy's name
            raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    fake.cuda = types.SimpleNamespace(runtime=_Runtime())
    monkeypatch.setitem(sys.modules, "cupy", fake)
    cuda_backend._probe.cache_clear()
    try:
        assert gf.cuda.is_available() is False
        assert "InsufficientDriver" in gf.cuda.unavailable_reason()
        assert gf.cuda.device_count() == 0
    finally:
        monkeypatch.undo()
        cuda_backend._probe.cache_clear()


def test_is_available_false_without_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import fails
    cuda_backend._probe.cache_clear()
    try:
        assert gf.cuda.is_available() is False
        assert "not installed" in gf.cuda.unavailable_reason()
    finally:
        monkeypatch.undo()
        cuda_backend._probe.cache_clear()


def _fake_device_tensor(values) -> Tensor:
    backend = NumpyBackend()
    backend.device = "cuda:7"  # a second backend object stands in for another device
    return Tensor._make(np.asarray(values, dtype=np.float32), backend)


def test_mixing_devices_names_op_and_both_devices():
    a = gf.tensor([1.0, 2.0])
    b = _fake_device_tensor([3.0, 4.0])
    with pytest.raises(RuntimeError, match=r"Add.*cpu.*cuda:7"):
        a + b
    with pytest.raises(RuntimeError, match=r"MatMul.*cpu.*cuda:7"):
        gf.matmul(a.reshape(1, 2), b.reshape(2, 1))


def test_manual_seed_reseeds_the_cpu_generator():
    gf.manual_seed(3)
    first = gf.get_backend("cpu").rng.random()
    gf.manual_seed(3)
    assert gf.get_backend("cpu").rng.random() == first


def test_kernel_table_binds_xp_and_names_missing_kernels():
    k = gf.get_backend("cpu").k
    np.testing.assert_array_equal(k.relu(np.array([-1.0, 2.0])), [0, 2])
    with pytest.raises(AttributeError, match="no kernel named 'warp_drive'"):
        k.warp_drive  # noqa: B018


def test_rng_state_round_trip():
    backend = gf.get_backend("cpu")
    state = backend.get_rng_state()
    a = backend.rng.random(3)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(backend.rng.random(3), a)


def test_ops_and_autograd_never_import_numpy_or_cupy():
    """DESIGN rule 1: ops ask the backend for kernels; only backends/kernels touch arrays libs."""
    root = pathlib.Path(gf.__file__).parent
    offenders = []
    for folder in ("ops", "autograd"):
        for path in (root / folder).glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [f"{path.name}: {n}" for n in names
                              if n.split(".")[0] in ("numpy", "cupy", "cupyx")]
    assert offenders == []


def _imported_modules(path: pathlib.Path, package: str) -> list[str]:
    """Every module ``path`` imports (at any depth of the file, relative imports resolved);
    ``from gradflow import x`` counts as ``gradflow.x``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            if base == "gradflow":
                out += [f"gradflow.{a.name}" for a in node.names]
            else:
                out.append(base)
    return out


def test_kernels_import_nothing_above_them():
    """gradflow/kernels (and kernels/cuda) see only the standard library, NumPy, SciPy, CuPy and
    themselves, plus gradflow.dtypes as long as it too imports nothing of gradflow: what a CUDA
    override needs from its backend (xp, the TF32 switch) comes with the backend object."""
    root = pathlib.Path(gf.__file__).parent
    allowed_top = set(sys.stdlib_module_names) | {"numpy", "ml_dtypes", "scipy", "cupy", "cupyx"}
    leaves = {"gradflow.dtypes"}   # gradflow modules kernels may use, checked the same way
    files = [(p, "gradflow." + ".".join(p.relative_to(root).with_suffix("").parts[:-1]))
             for p in sorted((root / "kernels").rglob("*.py"))]
    files += [(root / "dtypes.py", "gradflow")]
    offenders = []
    for path, package in files:
        in_kernels = package.startswith("gradflow.kernels")
        for name in _imported_modules(path, package):
            ok = name.split(".")[0] in allowed_top or in_kernels and (
                name in leaves or name == "gradflow.kernels"
                or name.startswith("gradflow.kernels."))
            if not ok:
                offenders.append(f"{path.relative_to(root)}: {name}")
    assert len(files) > 10 and offenders == []


def test_import_scan_sees_function_level_relative_and_package_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    from gradflow.backends import cuda\n"
                   "    from . import _common\n    from ...ops import add\n"
                   "    from gradflow import tensor\n")
    assert _imported_modules(src, "gradflow.kernels.cuda") == [
        "os", "gradflow.backends", "gradflow.kernels.cuda", "gradflow.ops", "gradflow.tensor"]
