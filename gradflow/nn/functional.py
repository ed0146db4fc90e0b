"""``gradflow.nn.functional``: the same functions as :mod:`gradflow.functional`, under PyTorch's
path (``import gradflow.nn.functional as F``)."""

from gradflow.functional import *  # noqa: F403
from gradflow.functional import __all__  # noqa: F401
