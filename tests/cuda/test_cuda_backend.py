"""The CuPy backend: transfers, DLPack, memory statistics, out-of-memory errors, TF32, seeding.

The out-of-memory and TF32-flag tests run anywhere (a stand-in allocator raises the error); the
rest need a CUDA GPU and are skipped with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import types
import weakref

import numpy as np
import pytest

import gradflow as gf
from gradflow.backends import cuda as cuda_backend

needs_gpu = pytest.mark.skipif(not gf.cuda.is_available(),
                               reason=f"needs a CUDA GPU: {gf.cuda.unavailable_reason()}")


# --- anywhere -------------------------------------------------------------------------------
class _FakeOOM(MemoryError):
    """Stands in for cupy.cuda.memory.OutOfMemoryError."""


class _FakePool:
    def used_bytes(self):
        return 7 * 2**30

    def total_bytes(self):
        return 9 * 2**30


def _fake_backend():
    """A CupyBackend whose allocator always runs out of memory (no CuPy, no GPU needed)."""

    def boom(*args, **kwargs):
        raise _FakeOOM("Out of memory allocating 4,000,000 bytes (allocated so far: 7 GiB).")

    xp = types.SimpleNamespace(
        asarray=boom, array=boom, empty=boom, zeros=boom, ones=boom, full=boom,
        get_default_memory_pool=_FakePool,
        cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(
            memGetInfo=lambda: (2**29, 80 * 2**30))))
    backend = cuda_backend.CupyBackend.__new__(cuda_backend.CupyBackend)
    backend.index, backend.device, backend.xp = 0, "cuda:0", xp
    backend._cupy_device = contextlib.nullcontext()
    backend._oom = (_FakeOOM,)
    return backend


def test_oom_message_says_how_much_what_the_pool_holds_and_what_to_try():
    msg = gf.cuda.oom_message(_FakeOOM("raw"), 3 * 2**30, pool=_FakePool(), device="cuda:1",
                              mem_get_info=lambda: (2**29, 80 * 2**30))
    assert "cuda:1" in msg and "tried to allocate 3.00 GiB" in msg
    assert "9.00 GiB" in msg and "7.00 GiB in use" in msg
    assert "512.00 MiB free of 80.00 GiB" in msg
    assert "smaller batch size" in msg and "raw" in msg


def test_oom_message_without_cupy_or_sizes_still_reads():
    msg = gf.cuda.oom_message(None, None, pool=object(), mem_get_info=lambda: 1 / 0)
    assert "an unknown amount" in msg and "state is unknown" in msg
    assert "smaller batch size" in msg


@pytest.mark.parametrize("call, nbytes", [
    (lambda b: b.from_host(np.zeros((1000, 1000), np.float32)), "3.81 MiB"),
    (lambda b: b.asarray(np.zeros(1000), "float32"), "3.91 KiB"),
    (lambda b: b.copy_from(np.zeros(10, np.int64)), "80 B"),
    (lambda b: b.zeros((2048, 1024), "float32"), "8.00 MiB"),
    (lambda b: b.empty(1024, "float64"), "8.00 KiB"),
    (lambda b: b.full((4, 4), 1.0, "float32"), "64 B"),
])
def test_allocating_entry_points_raise_a_clear_out_of_memory_error(call, nbytes):
    backend = _fake_backend()
    with pytest.raises(gf.cuda.OutOfMemoryError) as info:
        call(backend)
    msg = str(info.value)
    assert f"tried to allocate {nbytes}" in msg, msg
    assert "9.00 GiB" in msg and "smaller batch size" in msg
    assert isinstance(info.value.__cause__, _FakeOOM)
    assert isinstance(info.value, MemoryError)


def test_allow_tf32_sets_every_cuda_backend_and_the_default(monkeypatch):
    monkeypatch.setattr(cuda_backend, "default_allow_tf32", False)
    monkeypatch.setattr(cuda_backend, "_LIVE", weakref.WeakSet())
    live = [_fake_backend(), _fake_backend()]
    for backend in live:
        backend.allow_tf32 = False
        cuda_backend._LIVE.add(backend)
    assert gf.cuda.allow_tf32 is False
    gf.cuda.allow_tf32 = True
    try:
        assert gf.cuda.allow_tf32 is True and cuda_backend.default_allow_tf32 is True
        assert [b.allow_tf32 for b in live] == [True, True]
    finally:
        gf.cuda.allow_tf32 = False
    assert [b.allow_tf32 for b in live] == [False, False] and gf.cuda.allow_tf32 is False


def test_allow_tf32_defaults_to_the_cupy_tf32_environment_variable():
    read = cuda_backend.tf32_from_environment
    assert read({"CUPY_TF32": "1"}) is True and read({"CUPY_TF32": " 1 "}) is True
    assert read({"CUPY_TF32": "0"}) is False and read({"CUPY_TF32": ""}) is False
    assert read({}) is False


# --- on a GPU -------------------------------------------------------------------------------
@needs_gpu
def test_to_cpu_cuda_round_trip_keeps_values_dtype_and_gradient():
    x = gf.tensor(np.arange(12, dtype=np.float64).reshape(3, 4), requires_grad=True)
    y = x.cuda()
    assert y.device == "cuda:0" and y.dtype == np.float64
    z = (y * y).to("cpu")
    assert z.device == "cpu"
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    back = y.cpu()
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert gf.tensor([1.0, 2.0]).to("cuda", dtype="float64").dtype == np.float64


@needs_gpu
def test_copy_from_is_device_to_device():
    import cupy

    backend = gf.get_backend("cuda:0")
    src = cupy.arange(10, dtype=cupy.float32)
    out = backend.copy_from(src)
    assert out.data.ptr != src.data.ptr and out.device.id == 0
    cupy.testing.assert_array_equal(out, src)
    out_t = backend.copy_from(src[::2])  # strided source
    cupy.testing.assert_array_equal(out_t, src[::2])


@needs_gpu
@pytest.mark.skipif(gf.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_copy_between_gpus():
    import cupy

    with cupy.cuda.Device(0):
        src = cupy.arange(1000, dtype=cupy.float32)
    out = gf.get_backend("cuda:1").copy_from(src)
    assert out.device.id == 1
    np.testing.assert_array_equal(out.get(), src.get())
    t = gf.tensor(np.ones(3), device="cuda:0").to("cuda:1")
    assert t.device == "cuda:1"


@needs_gpu
def test_dlpack_with_cupy_shares_memory():
    import cupy

    a = cupy.arange(6, dtype=cupy.float32).reshape(2, 3)
    t = gf.from_dlpack(a)
    assert t.device == "cuda:0" and t.array.data.ptr == a.data.ptr
    b = cupy.from_dlpack(gf.ones(4, device="cuda"))
    assert b.dtype == cupy.float32
    t2 = gf.ones(4, device="cuda")
    assert cupy.from_dlpack(t2).data.ptr == t2.array.data.ptr


@needs_gpu
def test_dlpack_with_torch_shares_memory():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch build has no CUDA")
    tt = torch.arange(6, dtype=torch.float32, device="cuda").reshape(2, 3)
    t = gf.from_dlpack(tt)
    assert t.array.data.ptr == tt.data_ptr()
    t2 = gf.ones(5, device="cuda")
    back = torch.from_dlpack(t2)
    assert back.data_ptr() == t2.array.data.ptr and back.is_cuda


@needs_gpu
def test_dlpack_with_jax_shares_memory():
    jax = pytest.importorskip("jax")
    try:
        dev = jax.devices("gpu")[0]
    except RuntimeError:
        pytest.skip("this JAX build has no GPU backend")
    ja = jax.device_put(jax.numpy.arange(8, dtype=jax.numpy.float32), dev)
    t = gf.from_dlpack(ja)
    assert t.array.data.ptr == ja.unsafe_buffer_pointer()
    np.testing.assert_array_equal(t.numpy(), np.arange(8, dtype=np.float32))
    t2 = gf.ones(16, device="cuda")
    jb = jax.numpy.from_dlpack(t2)
    assert jb.unsafe_buffer_pointer() == t2.array.data.ptr


@needs_gpu
def test_memory_info_and_empty_cache():
    x = gf.zeros(1024, 1024, device="cuda")
    info = gf.cuda.memory_info()
    assert set(info) == {"pool_used_bytes", "pool_total_bytes", "device_free_bytes",
                         "device_total_bytes"}
    assert info["pool_used_bytes"] >= x.array.nbytes
    assert 0 < info["device_free_bytes"] <= info["device_total_bytes"]
    del x
    gf.cuda.empty_cache()
    assert gf.cuda.memory_info()["pool_total_bytes"] <= info["pool_total_bytes"]


@needs_gpu
def test_real_out_of_memory_is_the_clear_error():
    backend = gf.get_backend("cuda")
    with pytest.raises(gf.cuda.OutOfMemoryError, match="smaller batch size"):
        backend.zeros((2**42,), "float32")  # 16 TiB


@needs_gpu
def test_allow_tf32_switches_cupys_compute_type(monkeypatch):
    import cupy
    from cupy._core import _routines_linalg as linalg

    gf.cuda.allow_tf32 = False
    a = gf.tensor(np.random.default_rng(0).standard_normal((256, 256)), dtype="float32",
                  device="cuda")
    exact = (a @ a).numpy()
    assert linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_DEFAULT
    gf.cuda.allow_tf32 = True
    try:
        fast = (a @ a).numpy()
        if int(cupy.cuda.Device().compute_capability) >= 80:
            assert linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_TF32
        np.testing.assert_allclose(fast, exact, rtol=5e-2, atol=5e-1)
    finally:
        gf.cuda.allow_tf32 = False
        (a @ a).numpy()
    assert linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_DEFAULT


@needs_gpu
def test_manual_seed_makes_gpu_dropout_repeat():
    x = gf.ones(64, 64, device="cuda")
    gf.manual_seed(123)
    a = gf.functional.dropout(x, 0.5).numpy()
    gf.manual_seed(123)
    b = gf.functional.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 2.0} and 0.3 < (a == 0).mean() < 0.7
