"""``gf.backends.mps``: Apple's Metal backend does not exist in gradflow (always False), so
PyTorch programs that probe for it fall back to CUDA or the CPU."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
