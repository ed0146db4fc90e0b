"""Learning-rate schedulers against PyTorch's lr sequences, state_dict round trips, errors."""

from __future__ import annotations

import copy
import json
import math
import warnings

import pytest
import torch

import gradflow as gf
from gradflow import optim
from gradflow.nn import Parameter
from gradflow.optim import lr_scheduler

LRS = (0.1, 0.05)


class Warmup:
    """A callable object with state (saved by LambdaLR.state_dict, unlike a lambda)."""

    def __init__(self, steps: int):
        self.steps = steps

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.steps)


SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("StepLR", {"step_size": 1}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 11], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("LambdaLR", {"lr_lambda": lambda e: 0.95 ** e + 0.01 * (e % 3)}),
    ("LambdaLR", {"lr_lambda": [Warmup(5), lambda e: 1.0 / (e + 1)]}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 8}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 6}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(SCHEDULERS)]


def _pair(momentum=0.0):
    """A gradflow and a PyTorch SGD with two param groups, lrs 0.1 and 0.05."""
    ours = optim.SGD([{"params": [Parameter(gf.zeros(2))], "lr": LRS[0]},
                      {"params": [Parameter(gf.zeros(3))], "lr": LRS[1]}], lr=1.0,
                     momentum=momentum)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": LRS[0]},
                              {"params": [torch.zeros(3, requires_grad=True)], "lr": LRS[1]}],
                             lr=1.0, momentum=momentum)
    return ours, theirs


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_matches_torch_step_by_step(name, kwargs):
    opt, topt = _pair()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    assert _lrs(opt) == _lrs(topt)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert sched.base_lrs == tsched.base_lrs and sched.last_epoch == tsched.last_epoch == 0
    for step in range(25):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == tsched.get_last_lr(), f"step {step + 1}"
        assert _lrs(opt) == _lrs(topt)
        assert sched.last_epoch == tsched.last_epoch


def test_cosine_follows_the_closed_form():
    opt, _ = _pair()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    for t in range(1, 21):
        sched.step()
        for base, lr in zip(LRS, sched.get_last_lr()):
            assert lr == pytest.approx(0.01 + (base - 0.01) * (1 + math.cos(math.pi * t / 10)) / 2)


@pytest.mark.parametrize("kwargs", [
    {},
    {"patience": 2},
    {"patience": 1, "factor": 0.5, "cooldown": 2},
    {"patience": 0, "threshold": 0.05, "threshold_mode": "abs", "min_lr": 0.01},
    {"mode": "max", "patience": 1, "factor": 0.5, "min_lr": [0.02, 0.0]},
    {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.01, "cooldown": 1},
    {"patience": 0, "factor": 0.9, "eps": 0.006},
])
def test_reduce_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.85, 0.86, 0.86, 0.849, 0.85, 0.85, 0.85, 0.84, 0.7, 0.71, 0.72,
               0.73, 0.7, 0.69, 0.69, 0.69, 0.69, 0.69, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    opt, topt = _pair()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    changes = 0
    for step, m in enumerate(metrics):
        before = _lrs(opt)
        sched.step(gf.tensor(m, dtype="float64") if step % 2 else m)
        tsched.step(m)
        assert sched.get_last_lr() == tsched.get_last_lr() == _lrs(topt), f"step {step + 1}"
        assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter) == (
            tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter)
        changes += _lrs(opt) != before
    assert changes > 0 or kwargs == {}
    assert "initial_lr" not in opt.param_groups[0]  # as in PyTorch


# --- state_dict ---------------------------------------------------------------------------
def _plateau(opt):
    return lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5)


ROUND_TRIP = [(lambda o, kw=kw, n=n: getattr(lr_scheduler, n)(o, **kw)) for n, kw in
              SCHEDULERS] + [_plateau]
ROUND_IDS = IDS + ["ReduceLROnPlateau"]


def _advance(sched, opt, step):
    opt.step()
    if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
        sched.step(1.0 / (1 + step // 4))
    else:
        sched.step()


@pytest.mark.parametrize("make", ROUND_TRIP, ids=ROUND_IDS)
def test_state_dict_round_trip_resumes_exactly(make):
    opt, _ = _pair(momentum=0.9)
    sched = make(opt)
    expected = []
    for step in range(24):
        _advance(sched, opt, step)
        expected.append(sched.get_last_lr())

    opt, _ = _pair(momentum=0.9)
    sched = make(opt)
    got = []
    for step in range(10):
        _advance(sched, opt, step)
        got.append(sched.get_last_lr())
    sd = json.loads(json.dumps(sched.state_dict()))  # plain data: no optimizer, no lambdas
    osd = opt.state_dict()

    opt2, _ = _pair(momentum=0.9)
    sched2 = make(opt2)  # build the scheduler, then load the optimizer, then the scheduler
    opt2.load_state_dict(osd)
    sched2.load_state_dict(sd)
    for step in range(10, 24):
        _advance(sched2, opt2, step)
        got.append(sched2.get_last_lr())
    assert got == expected


def test_state_dict_excludes_optimizer_and_lambdas():
    opt, _ = _pair()
    warm = Warmup(4)
    sched = lr_scheduler.LambdaLR(opt, [warm, lambda e: 0.5])
    sd = sched.state_dict()
    assert "optimizer" not in sd
    assert sd["lr_lambdas"] == [{"steps": 4}, None]
    assert sd["last_epoch"] == 0 and sd["base_lrs"] == list(LRS)
    warm.steps = 99
    sched.load_state_dict(sd)
    assert warm.steps == 4


def test_state_dict_is_a_snapshot():
    opt, _ = _pair()
    sched = lr_scheduler.StepLR(opt, step_size=2)
    sd = sched.state_dict()
    sched.step()
    assert sd["last_epoch"] == 0


def test_get_last_lr_is_a_copy():
    opt, _ = _pair()
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched.get_last_lr().append(1.0)
    assert len(sched.get_last_lr()) == 2


def test_resume_with_last_epoch_matches_torch():
    opt, topt = _pair()
    for o in (opt, topt):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5, last_epoch=4)
        sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5, last_epoch=4)
        for _ in range(6):
            opt.step()
            topt.step()
            sched.step()
            tsched.step()
            assert sched.get_last_lr() == tsched.get_last_lr()


# --- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda o: lr_scheduler.StepLR(o, step_size=2),
    lambda o: lr_scheduler.MultiStepLR(o, [1]),
    lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
    lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=3),
    lambda o: lr_scheduler.LambdaLR(o, lambda e: 1.0),
    lambda o: lr_scheduler.LinearLR(o),
    lambda o: lr_scheduler.ReduceLROnPlateau(o),
])
def test_optimizer_must_be_an_optimizer(make):
    with pytest.raises(TypeError, match="optimizer must be a gradflow.optim.Optimizer, got "
                                        "SGD"):
        make(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))


@pytest.mark.parametrize("make,match", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), "invalid step_size=0"),
    (lambda o: lr_scheduler.StepLR(o, step_size=1.5), "invalid step_size=1.5"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "invalid T_max=0"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), r"invalid start_factor=0.0.*\(0, 1\]"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=1.5), "invalid start_factor=1.5"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=1.2), r"invalid end_factor=1.2.*\[0, 1\]"),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=0), "invalid total_iters=0"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), "got 1 lr_lambdas for 2 param groups"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), "invalid mode='up'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"),
     "invalid threshold_mode='pct'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), "invalid factor=1.0; it must be < 1"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), "invalid patience=-1"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.0]), "got 1 min_lr values for 2"),
])
def test_bad_arguments(make, match):
    opt, _ = _pair()
    with pytest.raises(ValueError, match=match):
        make(opt)


def test_lambda_not_callable():
    opt, _ = _pair()
    with pytest.raises(TypeError, match=r"lr_lambda\[1\] must be callable, got float"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0, 0.5])


def test_resume_without_initial_lr():
    opt, _ = _pair()
    with pytest.raises(KeyError, match="last_epoch=3.*param group 0 has no 'initial_lr'"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)


def test_param_group_added_after_the_scheduler():
    opt, _ = _pair()
    sched = lr_scheduler.StepLR(opt, step_size=2)
    opt.add_param_group({"params": [Parameter(gf.zeros(1))]})
    with pytest.raises(RuntimeError, match="optimizer has 3 param groups but the scheduler was "
                                           "built for 2"):
        sched.step()


def test_plateau_with_a_param_group_added_later():
    opt, _ = _pair()
    scalar = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=0.001)
    listed = lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.001, 0.002])
    opt.add_param_group({"params": [Parameter(gf.zeros(1))], "lr": 0.2})
    for m in (1.0, 2.0):
        scalar.step(m)
    assert scalar.get_last_lr() == pytest.approx([0.01, 0.005, 0.02])
    listed.step(1.0)
    with pytest.raises(RuntimeError, match="3 param groups but min_lr has 2 values"):
        listed.step(2.0)


def test_load_state_dict_of_another_scheduler():
    opt, _ = _pair()
    sd = lr_scheduler.StepLR(opt, step_size=2).state_dict()
    cos = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    with pytest.raises(ValueError, match=r"unexpected keys \['gamma', 'step_size'\]"):
        cos.load_state_dict(copy.deepcopy(sd))
