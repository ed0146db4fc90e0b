"""Products beyond matmul (dot, outer, inner, mv, addmm and friends, kron, tensordot) and
``einsum``, with PyTorch's signatures, dtype rules and errors.

``einsum`` is one Function whose forward is ``xp.einsum`` and whose vector-Jacobian product for
each operand is again an einsum (of the cotangent with the other operands), so ``backward`` is
the same Function on Tensors and every derivative order is exact. Ellipses and size-1
broadcasting are resolved before the Function (explicit letters; ``broadcast_to``), and an
operand's repeated subscript (a diagonal, ``'ii->i'``) gets its gradient through a constant
identity operand, an operand-only summed subscript through a constant ones operand.
"""

from __future__ import annotations

from gradflow.autograd.function import Function
from gradflow.ops._util import tensor_arg
from gradflow.ops.math import where
from gradflow.ops.matmul import matmul
from gradflow.ops.shape import broadcast_to, reshape
from gradflow.tensor import Tensor

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# -- einsum -------------------------------------------------------------------------------------

def _grad_plan(subs: list[str], out: str, k: int, shapes: list[tuple]) -> tuple:
    """The einsum that maps the cotangent to operand ``k``'s gradient: ``(equation, extra)``
    with ``extra`` the constant operands it needs, as ``("eye", n)`` / ``("ones", n)``."""
    used = set("".join(subs)) | set(out)
    fresh = (c for c in _LETTERS if c not in used)
    target, extra, extra_subs = [], [], []
    seen: dict[str, int] = {}
    for c, n in zip(subs[k], shapes[k]):
        if c in seen:  # a diagonal: δ(c, c') places the gradient on it
            f = next(fresh)
            target.append(f)
            extra.append(("eye", n))
            extra_subs.append(c + f)
        else:
            seen[c] = n
            target.append(c)
    present = set(out).union(*(subs[i] for i in range(len(subs)) if i != k))
    for c, n in seen.items():
        if c not in present:  # summed over in operand k alone: its gradient is broadcast
            extra.append(("ones", n))
            extra_subs.append(c)
    ins = [out] + [s for i, s in enumerate(subs) if i != k] + extra_subs
    return ",".join(ins) + "->" + "".join(target), tuple(extra)


class Einsum(Function):
    """out = einsum(subs -> out)(x_1, ..., x_n); ∂L/∂x_k = einsum(out, subs_{≠k} -> subs_k)(G,
    x_{≠k}) (with δ/ones operands for diagonals and operand-only sums)."""

    @staticmethod
    def forward(ctx, *arrays, subs, out):
        ctx.subs, ctx.out = subs, out
        ctx.save_for_backward(*arrays)
        return ctx.k.linalg_einsum(",".join(subs) + "->" + out, *arrays)

    @staticmethod
    def _plans(ctx, shapes):
        return [_grad_plan(list(ctx.subs), ctx.out, k, shapes) if need else None
                for k, need in enumerate(ctx.needs_input_grad)]

    @staticmethod
    def _grads(ctx, g, operands, const, einsum) -> tuple:
        """∂L/∂x_k for each operand that needs it, on arrays (``vjp``) or Tensors
        (``backward``) alike: ``const`` wraps the δ/ones operands, ``einsum(equation, *xs)``
        runs one plan."""
        xp = ctx.xp
        grads = []
        for i, plan in enumerate(Einsum._plans(ctx, [a.shape for a in operands])):
            if plan is None:
                grads.append(None)
                continue
            eq, extra = plan
            consts = [const(xp.eye(n, dtype=g.dtype) if kind == "eye"
                            else xp.ones(n, dtype=g.dtype)) for kind, n in extra]
            others = [a for j, a in enumerate(operands) if j != i]
            grads.append(einsum(eq, g, *others, *consts))
        return tuple(grads)

    @staticmethod
    def vjp(ctx, g):
        return Einsum._grads(ctx, g, ctx.saved_arrays, lambda a: a, ctx.k.linalg_einsum)

    @staticmethod
    def backward(ctx, g):
        backend = ctx.backend
        return Einsum._grads(ctx, g, ctx.saved_tensors, lambda a: Tensor.wrap(a, backend),
                             _einsum_tensors)


def _einsum_tensors(equation: str, *operands: Tensor) -> Tensor:
    """The recorded :class:`Einsum` of ``equation`` ("ab,bc->ac", explicit letters)."""
    ins, target = equation.split("->")
    return Einsum.apply(*operands, subs=tuple(ins.split(",")), out=target)


def _einsum_error(msg: str) -> RuntimeError:
    return RuntimeError(f"einsum(): {msg}")


def _parse_operand(term: str, i: int, offset: int) -> tuple[str, bool]:
    """``term`` without its ellipsis, and whether it had one; bad characters raise."""
    letters, ellipsis, j = [], False, 0
    while j < len(term):
        c = term[j]
        if c == ".":
            if term[j:j + 3] != "...":
                raise _einsum_error(f"found '.' for operand {i} that is not part of any "
                                    "ellipsis; write exactly '...'")
            if ellipsis:
                raise _einsum_error(f"found '.' for operand {i} for which an ellipsis was "
                                    "already found; use at most one '...' per operand")
            ellipsis = True
            letters.append(".")
            j += 3
            continue
        if c not in _LETTERS:
            raise _einsum_error(f"invalid subscript {c!r} given at index {offset + j} in the "
                                "equation string, subscripts must be in [a-zA-Z]")
        letters.append(c)
        j += 1
    return "".join(letters), ellipsis


def _canonical(equation: str, operands: list[Tensor]) -> tuple[list[str], str, list[Tensor]]:
    """Letters-only subscripts and output with the ellipsis spelled out, and the operands
    broadcast to the sizes of their subscripts (torch broadcasts size-1 dimensions)."""
    eq = equation.replace(" ", "")
    if eq.count("->") > 1 or ("->" not in eq and ">" in eq) or eq.replace("->", "").count("-"):
        raise _einsum_error(f"invalid equation {equation!r}: at most one '->' separating the "
                            "operands' subscripts from the output's")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise _einsum_error(f"fewer operands were provided than specified in the equation "
                            f"{equation!r} ({len(terms)} subscripts, {len(operands)} operands)")
    if len(terms) < len(operands):
        raise _einsum_error(f"more operands were provided than specified in the equation "
                            f"{equation!r} ({len(terms)} subscripts, {len(operands)} operands)")
    parsed, offset = [], 0
    for i, (term, t) in enumerate(zip(terms, operands)):
        letters, ell = _parse_operand(term, i, offset)
        offset += len(term) + 1
        n = len(letters) - ell
        if (t.ndim != n and not ell) or (ell and t.ndim < n):
            raise _einsum_error(
                f"the number of subscripts in the equation ({n}) does not match the number of "
                f"dimensions ({t.ndim}) for operand {i} (shape {tuple(t.shape)}) and no "
                f"ellipsis was given" if not ell else
                f"the number of subscripts in the equation ({n}) is more than the number of "
                f"dimensions ({t.ndim}) for operand {i} (shape {tuple(t.shape)})")
        parsed.append((letters, ell, t.ndim - n))
    n_ell = max([e for _, ell, e in parsed if ell], default=0)
    used = set(lhs) | set(rhs)
    ell_letters = "".join([c for c in _LETTERS if c not in used][:n_ell])
    if len(ell_letters) < n_ell:
        raise _einsum_error(f"the equation {equation!r} needs more than 52 subscripts")
    subs = [letters.replace(".", ell_letters[n_ell - e:] if ell else "")
            for letters, ell, e in parsed]
    # the size of every subscript, broadcasting size-1 dimensions as torch does
    size: dict[str, int] = {}
    for i, (s, t) in enumerate(zip(subs, operands)):
        own: dict[str, int] = {}
        for c, n in zip(s, t.shape):
            if c in own and own[c] != n:
                raise _einsum_error(f"subscript {c} is repeated for operand {i} but the sizes "
                                    f"don't match, {own[c]} != {n} (shape {tuple(t.shape)})")
            own[c] = n
            if c not in size or size[c] == 1:
                size[c] = n
            elif n not in (1, size[c]):
                raise _einsum_error(
                    f"subscript {c} has size {n} for operand {i} (shape {tuple(t.shape)}) which "
                    f"does not broadcast with previously seen size {size[c]} (shapes "
                    f"{[tuple(o.shape) for o in operands]})")
    if arrow:
        if "." in rhs and (rhs.count("...") != 1 or rhs.replace("...", "").count(".")):
            raise _einsum_error("found '.' for output that is not part of one ellipsis")
        out = rhs.replace("...", ell_letters)
        for c in out:
            if c not in _LETTERS:
                raise _einsum_error(f"invalid subscript {c!r} in the output of {equation!r}, "
                                    "subscripts must be in [a-zA-Z]")
            if c not in size:
                raise _einsum_error(f"output subscript {c} does not appear in the equation for "
                                    f"any input operand ({equation!r})")
            if out.count(c) > 1:
                raise _einsum_error(f"output subscript {c} appears more than once in the output "
                                    f"({equation!r})")
    else:
        counts = "".join(letters for letters, _, _ in parsed).replace(".", "")
        out = ell_letters + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    operands = [t if all(size[c] == n for c, n in zip(s, t.shape))
                else broadcast_to(t, tuple(size[c] for c in s)) for s, t in zip(subs, operands)]
    return subs, out, operands


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation in PyTorch's string form: ``einsum('bij,bjk->bik', a, b)``, operands
    as arguments or one list; ``...`` broadcasts; without ``->`` the output is the subscripts
    seen once, in alphabetical order, after the ellipsis dimensions."""
    if not isinstance(equation, str):
        raise TypeError("einsum(): the first argument must be the equation string (the "
                        f"sublist form is not supported), got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    for i, t in enumerate(operands):
        tensor_arg(t, "einsum", f"operands[{i}]")
    if not operands:
        raise _einsum_error("must provide at least one operand")
    dtypes = {t.dtype for t in operands}
    if len(dtypes) > 1:
        raise RuntimeError(f"einsum(): expected all operands to have the same dtype, got "
                           f"{[str(t.dtype) for t in operands]}; convert them (e.g. .float())")
    subs, out, operands = _canonical(equation, list(operands))
    return Einsum.apply(*operands, subs=tuple(subs), out=out)


# -- products -----------------------------------------------------------------------------------

def _same_dtype(op: str, *tensors: Tensor) -> None:
    if len({t.dtype for t in tensors}) > 1:
        raise RuntimeError(f"{op}: expected all inputs to have the same dtype, got "
                           f"{', '.join(str(t.dtype) for t in tensors)}; convert them "
                           "(e.g. .float() or .double())")


def _vectors(op: str, a, b, names=("input", "tensor")) -> None:
    tensor_arg(a, op, names[0])
    tensor_arg(b, op, names[1])
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"{op}: 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors "
                           f"(shapes {tuple(a.shape)} and {tuple(b.shape)})")


def dot(input: Tensor, tensor: Tensor) -> Tensor:  # noqa: A002
    """Σ_i a_i b_i of two 1-D tensors of one size and dtype."""
    _vectors("dot", input, tensor)
    _same_dtype("dot", input, tensor)
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(f"dot: inconsistent tensor size, expected tensors of the same number "
                           f"of elements, got {input.shape[0]} and {tensor.shape[0]}")
    return matmul(input, tensor)


def vdot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Σ_i conj(a_i) b_i (real tensors: ``dot``)."""
    _vectors("vdot", input, other, ("input", "other"))
    if input.dtype.kind == "c" or other.dtype.kind == "c":
        raise RuntimeError("vdot: complex tensors are not supported (no conj op yet); use "
                           "real tensors")
    _same_dtype("vdot", input, other)
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"vdot: inconsistent tensor size, expected tensors of the same "
                           f"number of elements, got {input.shape[0]} and {other.shape[0]}")
    return matmul(input, other)


def _promote(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's promotion of an integer with a float tensor: the float's dtype (NumPy would
    widen int64 with float32 to float64)."""
    ka, kb = a.dtype.kind, b.dtype.kind
    if ka in "biu" and kb in "fc":
        return a.to(dtype=b.dtype), b
    if kb in "biu" and ka in "fc":
        return a, b.to(dtype=a.dtype)
    return a, b


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """a bᵀ of two 1-D tensors (dtypes promote, as torch's ``outer``)."""
    tensor_arg(input, "outer")
    tensor_arg(vec2, "outer", "vec2")
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D "
                               f"(shape {tuple(t.shape)})")
    input, vec2 = _promote(input, vec2)
    return reshape(input, (-1, 1)) * vec2


def ger(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """Alias of :func:`outer`."""
    return outer(input, vec2)


def inner(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Σ over the last dimension of both (a scalar operand multiplies)."""
    tensor_arg(input, "inner")
    tensor_arg(other, "inner", "other")
    _same_dtype("inner", input, other)
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {tuple(input.shape)} and {tuple(other.shape)}")
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002
    """Matrix (n, m) times vector (m,)."""
    tensor_arg(input, "mv")
    tensor_arg(vec, "mv", "vec")
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: vector + matrix @ vector expected, got input of shape "
                           f"{tuple(input.shape)} and vec of shape {tuple(vec.shape)}")
    _same_dtype("mv", input, vec)
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"mv: size mismatch, got mat ({input.shape[0]}x{input.shape[1]}), "
                           f"vec ({vec.shape[0]})")
    return matmul(input, vec)


def _scaled_sum(op: str, input: Tensor, prod: Tensor, beta, alpha) -> Tensor:  # noqa: A002
    """beta·input + alpha·prod with input broadcast to prod's shape; beta = 0 ignores input's
    values (NaN and inf included), as torch does, and gives it a zero gradient."""
    try:
        input_b = broadcast_to(input, tuple(prod.shape))
    except ValueError as exc:
        raise RuntimeError(f"{op}: input of shape {tuple(input.shape)} cannot be broadcast to "
                           f"the product's shape {tuple(prod.shape)}") from exc
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        none = Tensor.wrap(input.backend.xp.zeros(prod.shape, dtype=bool), input.backend)
        return prod + where(none, input_b, 0)
    return prod + (input_b if beta == 1 else input_b * beta)


def _matrices(op: str, names: tuple, tensors: tuple, ndim: int) -> None:
    for name, t in zip(names, tensors):
        tensor_arg(t, op, name)
    for name, t in zip(names[1:], tensors[1:]):
        if t.ndim != ndim:
            raise RuntimeError(f"{op}: {name} must be a {ndim}-D tensor, got shape "
                               f"{tuple(t.shape)}")
    _same_dtype(op, *tensors)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta·input + alpha·(mat1 @ mat2); input broadcasts to (n, p)."""
    _matrices("addmm", ("input", "mat1", "mat2"), (input, mat1, mat2), 2)
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"addmm: mat1 and mat2 shapes cannot be multiplied "
                           f"({mat1.shape[0]}x{mat1.shape[1]} and {mat2.shape[0]}x"
                           f"{mat2.shape[1]})")
    return _scaled_sum("addmm", input, matmul(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta·input + alpha·(mat @ vec); input broadcasts to (n,)."""
    tensor_arg(input, "addmv")
    _same_dtype("addmv", input, mat, vec)
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


def _batches(op: str, input, batch1, batch2) -> None:  # noqa: A002
    _matrices(op, ("input", "batch1", "batch2"), (input, batch1, batch2), 3)
    if batch1.shape[0] != batch2.shape[0] or batch1.shape[2] != batch2.shape[1]:
        raise RuntimeError(f"{op}: expected batch1 (b, n, m) and batch2 (b, m, p) of one batch "
                           f"size b and matching m, got shapes {tuple(batch1.shape)} and "
                           f"{tuple(batch2.shape)}")


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1,  # noqa: A002
            alpha=1) -> Tensor:
    """beta·input + alpha·(batch1 @ batch2) per batch; input broadcasts to (b, n, p)."""
    _batches("baddbmm", input, batch1, batch2)
    return _scaled_sum("baddbmm", input, matmul(batch1, batch2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1,  # noqa: A002
           alpha=1) -> Tensor:
    """beta·input + alpha·Σ_b batch1[b] @ batch2[b]; input broadcasts to (n, p)."""
    _batches("addbmm", input, batch1, batch2)
    return _scaled_sum("addbmm", input, einsum("bij,bjk->ik", batch1, batch2), beta, alpha)


def kron(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The Kronecker product: (a ⊗ b)[i·B + j] = a[i] b[j] in every dimension (the smaller
    rank is padded with leading 1s; dtypes promote)."""
    tensor_arg(input, "kron")
    tensor_arg(other, "kron", "other")
    input, other = _promote(input, other)
    n = max(input.ndim, other.ndim)
    sa = (1,) * (n - input.ndim) + tuple(input.shape)
    sb = (1,) * (n - other.ndim) + tuple(other.shape)
    a = reshape(input, tuple(x for d in sa for x in (d, 1)))
    b = reshape(other, tuple(x for d in sb for x in (1, d)))
    return reshape(a * b, tuple(x * y for x, y in zip(sa, sb)))


def _dims_list(dims, n: int, op: str, name: str) -> list[int]:
    out = []
    for d in dims:
        d = int(d)
        if not -n <= d < max(n, 1):
            raise IndexError(f"{op}: dim {d} of {name} is out of range for a tensor with {n} "
                             f"dimensions (expected one in [{-n}, {n - 1}])")
        out.append(d % n)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {out} appears multiple times in the list of dims of "
                           f"{name}")
    return out


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Contract ``a``'s dims with ``b``'s: ``dims=n`` pairs the last n of a with the first n of
    b; ``dims=([a dims], [b dims])`` pairs them explicitly."""
    tensor_arg(a, "tensordot", "a")
    tensor_arg(b, "tensordot", "b")
    _same_dtype("tensordot", a, b)
    if isinstance(dims, Tensor):
        dims = dims.item() if dims.ndim == 0 else dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims} "
                               f"for shapes {tuple(a.shape)} and {tuple(b.shape)}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        try:
            da_, db_ = dims
            da_ = [da_] if isinstance(da_, int) else list(da_)
            db_ = [db_] if isinstance(db_, int) else list(db_)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"tensordot: dims must be an int or a pair of lists of dims, got "
                            f"{dims!r}") from exc
        if len(da_) != len(db_):
            raise RuntimeError(f"tensordot: both dimension lists should have same length, got "
                               f"{da_} and {db_}")
        da = _dims_list(da_, a.ndim, "tensordot", "a")
        db = _dims_list(db_, b.ndim, "tensordot", "b")
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has "
                               f"size {a.shape[i]} in dim {i} and second has size {b.shape[j]} "
                               f"in dim {j} (shapes {tuple(a.shape)} and {tuple(b.shape)})")
    if a.ndim + b.ndim - len(da) > len(_LETTERS):
        raise RuntimeError("tensordot: more than 52 dimensions in all are not supported")
    la = _LETTERS[:a.ndim]
    lb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for i, j in zip(da, db):
        lb[j] = la[i]
    out = "".join(c for i, c in enumerate(la) if i not in da) + "".join(
        c for j, c in enumerate(lb) if j not in db)
    return Einsum.apply(a, b, subs=(la, "".join(lb)), out=out)


from gradflow.tensor import tensor_methods  # noqa: E402

tensor_methods(dot=dot, vdot=vdot, outer=outer, ger=ger, inner=inner, mv=mv, addmm=addmm,
               addmv=addmv, addbmm=addbmm, baddbmm=baddbmm, kron=kron)
