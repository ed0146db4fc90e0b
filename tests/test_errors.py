"""Bad input gets a clear error naming the op, the argument, the shapes and the fix."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
import gradflow.functional as F


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        gf.ones(2, 3) @ gf.ones(4, 5)
    with pytest.raises(ValueError, match="batch axes"):
        gf.ones(2, 3, 4) @ gf.ones(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        gf.matmul(gf.tensor(2.0), gf.ones(2))


def test_broadcast_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"add: operands with shapes \(2, 3\) and \(4,\)"):
        gf.ones(2, 3) + gf.ones(4)
    with pytest.raises(ValueError, match=r"mul: operands with shapes \(3,\) and \(2,\)"):
        gf.ones(3) * gf.ones(2)


def test_class_index_out_of_range_names_index_and_c():
    logits = gf.zeros(3, 4)
    with pytest.raises(ValueError, match=r"class index 4 is out of range \[0, 4\)"):
        F.cross_entropy(logits, gf.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"class index -1 is out of range"):
        F.nll_loss(logits, gf.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match="target must have shape"):
        F.cross_entropy(logits, gf.tensor([0, 1]))


def test_loss_shape_mismatch():
    # broadcasting targets warn, as torch does (tests/test_losses_torch.py); shapes that do not
    # broadcast are an error naming both
    with pytest.raises((ValueError, RuntimeError), match=r"\(4, 2\).*\(3,\)"), \
            pytest.warns(UserWarning, match="target size"):
        F.mse_loss(gf.zeros(4, 2), gf.zeros(3))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(gf.zeros(2), gf.zeros(2), reduction="avg")


def test_reshape_and_axis_errors():
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\)"):
        gf.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        gf.ones(2, 3).sum(2)
    with pytest.raises(ValueError, match="axis 0 has size 2, not 1"):
        gf.ones(2, 3).squeeze(0)
    with pytest.raises(ValueError, match="not a permutation"):
        gf.ones(2, 3).permute(0, 0)
    with pytest.raises(IndexError, match="transpose: dimension 2 is out of range"):
        gf.ones(2, 3).transpose(0, 2)


def test_normalization_shape_errors():
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(4,\)"):
        F.layer_norm(gf.ones(2, 3), 4)
    with pytest.raises(ValueError, match="running_mean has shape"):
        F.batch_norm(gf.ones(4, 3), gf.zeros(5), gf.ones(5), training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(gf.ones(1, 3), None, None, training=True)


def test_linear_width_error_names_expected_and_got():
    with pytest.raises(ValueError, match=r"expected input with 3 features .* got input of shape "
                                         r"\(4, 5\)"):
        F.linear(gf.ones(4, 5), gf.ones(2, 3))


def test_dropout_probability_range():
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="p must be in"):
            F.dropout(gf.ones(3), p)


def test_gelu_and_softmax_arguments():
    with pytest.raises(ValueError, match="approximate must be"):
        F.gelu(gf.ones(2), approximate="erf")
    with pytest.raises(TypeError, match="axis must be an int"):
        F.softmax(gf.ones(2, 2), axis=(0, 1))


def test_index_errors():
    with pytest.raises(IndexError, match="integer or bool"):
        gf.ones(3)[gf.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match=r"shape \(3,\)"):
        gf.ones(3)[np.array([5])]


def test_tensor_from_ragged_data():
    with pytest.raises((TypeError, ValueError)):
        gf.tensor([[1.0, 2.0], [3.0]])


def test_concatenate_and_stack_name_bad_axes():
    with pytest.raises(ValueError, match="concatenate: zero-dimensional tensors .* use stack"):
        gf.concatenate([gf.tensor(1.0), gf.tensor(2.0)])
    with pytest.raises(IndexError, match=r"concatenate: dimension 2 is out of range .*\[-2, 1\]"):
        gf.concatenate([gf.ones(2, 3), gf.ones(2, 3)], 2)
    with pytest.raises(IndexError, match="stack: dimension -4 is out of range"):
        gf.stack([gf.ones(2, 3), gf.ones(2, 3)], -4)
    assert gf.stack([gf.ones(2, 3), gf.ones(2, 3)], -1).shape == (2, 3, 2)  # as torch.stack
    assert gf.concatenate([gf.ones(2, 3), gf.ones(2, 1)], -1).shape == (2, 4)
