"""``fit`` and the ``Trainer`` behind it: the seed lectures' PyTorch-style training loop.

Per step: ``optimizer.zero_grad(); out = model(*inputs); loss = loss_fn(out, target);
loss.backward()``; the explicit L2 term; gradient clipping; ``optimizer.step()``. Per epoch:
the training loss and accuracy (summed on the device, read once), validation under
``no_grad``/``eval``, the scheduler step, the stopping rules and the callbacks.
"""

from __future__ import annotations

import importlib.util
import math
import numbers
import time
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from gradflow import io
from gradflow.autograd import no_grad
from gradflow.backends import get_backend
from gradflow.creation import tensor as make_tensor
from gradflow.creation import zeros
from gradflow.distributed.comm import init as init_distributed
from gradflow.nn.module import Module
from gradflow.nn.utils import clip_grad_adaptive_, clip_grad_norm_
from gradflow.optim.lr_scheduler import ReduceLROnPlateau
from gradflow.optim.optimizer import Optimizer
from gradflow.tensor import Tensor
from gradflow.train.callbacks import Callback
from gradflow.train.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from gradflow.train.history import History
from gradflow.train.metrics import EpochMeter, check_loss, check_metrics
from gradflow.train.parallel import RankContext, is_sharded
from gradflow.train.progress import ProgressBar
from gradflow.train.triggers import Trigger

__all__ = ["fit", "Trainer", "TrainingError"]

_NAN_GUARDS = {True: "epoch", "epoch": "epoch", "step": "step", False: None, None: None}


class TrainingError(RuntimeError):
    """Training diverged (a non-finite loss). ``epoch``, ``step`` (global, from 1) and
    ``history`` (the records so far, ``stop_reason="nan"``) say where."""

    def __init__(self, message: str, *, epoch: int, step: int, history: History):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


def _check_optional(name: str, value: Any, *, integer: bool = False,
                    allow_zero: bool = False) -> Any:
    """``None`` or a positive (or non-negative) int/real; a ValueError naming ``name``."""
    if value is None:
        return None
    kind = numbers.Integral if integer else numbers.Real
    ok = not isinstance(value, bool) and isinstance(value, kind) and math.isfinite(value) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        what = "int" if integer else "number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"fit: {name} must be None or a finite {what} {bound}, got {value!r}")
    return int(value) if integer else float(value)


class Trainer:
    """The state of one training run; :func:`fit` builds one and calls :meth:`fit`.

    Attributes visible to callbacks: ``model``, ``optimizer``, ``scheduler``, ``history``,
    ``train_loader``, ``val_loader``, ``epochs``, ``epoch`` (the current epoch, from 1; after
    training, the last one run), ``step`` (optimizer steps done, across resumes),
    ``stop_training``, ``stop_reason``, ``config`` (the run's settings, for loggers), ``output``
    (the model output of the last :meth:`train_step`, for the metrics), ``batch`` (the
    ``[*inputs, target]`` it trained on, for step callbacks) and ``error`` (the
    exception that ended training, else ``None``), ``rank`` and ``world_size`` (of
    :func:`gradflow.distributed.init`: 0 and 1 unless run under ``mpiexec``; on several ranks
    see :mod:`gradflow.train.parallel`). Arguments: see :func:`fit`.

    Subclass and override :meth:`train_step` (one optimizer step on a batch) or
    :meth:`evaluate` to change the loop; :meth:`state_dict`/:meth:`load_state_dict` hold
    everything a resumed run needs.
    """

    def __init__(self, model: Module, loss_fn: Any, optimizer: Optimizer,
                 train_loader: Iterable, val_loader: Iterable | None = None, epochs: int = 10,
                 *, scheduler: Any = None, callbacks: Sequence[Callback] = (),
                 device: Any = None, metrics: Sequence[str] = ("accuracy",),
                 max_iters: int | None = None, loss_tol: float | None = None,
                 clip_grad_norm: float | None = None, clip_grad_adaptive: float | None = None,
                 l2: float = 0.0, nan_guard: bool | str = True, val_every: Any = 1):
        if not isinstance(model, Module):
            raise TypeError(f"fit: model must be a gradflow nn.Module, got "
                            f"{type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"fit: loss_fn must be callable as loss_fn(output, target), got "
                            f"{type(loss_fn).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"fit: optimizer must be a gradflow.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        for name, loader in (("train_loader", train_loader), ("val_loader", val_loader)):
            if loader is not None and (isinstance(loader, Tensor) or
                                       not hasattr(loader, "__iter__")):
                raise TypeError(f"fit: {name} must be an iterable of (inputs..., target) batches "
                                f"such as a DataLoader, got {type(loader).__name__}")
        if scheduler is not None and not callable(getattr(scheduler, "step", None)):
            raise TypeError(f"fit: scheduler must have a step() method (an "
                            f"optim.lr_scheduler object), got {type(scheduler).__name__}")
        sched_opt = getattr(scheduler, "optimizer", None)
        if scheduler is not None and sched_opt is not None and sched_opt is not optimizer:
            raise ValueError(f"fit: the scheduler ({type(scheduler).__name__}) was built on "
                             f"another optimizer ({type(sched_opt).__name__} at "
                             f"{id(sched_opt):#x}) than the one fit steps "
                             f"({type(optimizer).__name__} at {id(optimizer):#x}), so it would "
                             "change learning rates that are never used; build it on the "
                             "optimizer passed to fit")
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
        self.max_iters = _check_optional("max_iters", max_iters, integer=True)
        self.loss_tol = _check_optional("loss_tol", loss_tol)
        self.clip_grad_norm = _check_optional("clip_grad_norm", clip_grad_norm)
        self.clip_grad_adaptive = _check_optional("clip_grad_adaptive", clip_grad_adaptive)
        if self.clip_grad_norm is not None and self.clip_grad_adaptive is not None:
            raise ValueError("fit: pass clip_grad_norm or clip_grad_adaptive, not both")
        self.l2 = _check_optional("l2", l2, allow_zero=True) or 0.0
        if not isinstance(nan_guard, bool | str | None) or nan_guard not in _NAN_GUARDS:
            raise ValueError(f"fit: nan_guard must be True/'epoch' (check once per epoch), "
                             f"'step' (check every step) or False, got {nan_guard!r}")
        self.nan_guard = _NAN_GUARDS[nan_guard]
        self.metrics = check_metrics(metrics)
        self.val_every = Trigger.parse(val_every, "fit: val_every")
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: callbacks must be gradflow.train.Callback instances, got "
                                f"{type(cb).__name__}")
            if cb.every is not None:
                cb.every = Trigger.parse(cb.every, f"{type(cb).__name__}.every")
        order = sorted(range(len(callbacks)), key=lambda i: (callbacks[i]._order, i))
        comm = init_distributed()
        self.rank, self.world_size = comm.rank, comm.size
        # a step callback that may stop training mid-epoch makes that decision collective
        self._collective_stop = comm.size > 1 and any(
            type(cb).on_step_end is not Callback.on_step_end and not cb.rank_zero_only
            for cb in callbacks)
        self.callbacks = [callbacks[i] for i in order
                          if self.rank == 0 or not callbacks[i].rank_zero_only]
        self._step_callbacks = [cb for cb in self.callbacks
                                if type(cb).on_step_end is not Callback.on_step_end]

        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.train_loader, self.val_loader = train_loader, val_loader
        self.scheduler, self.epochs = scheduler, int(epochs)
        if device is not None:
            self.backend = get_backend(device)
        else:
            first = next(iter(model.parameters()), None)
            self.backend = get_backend(None) if first is None else first.backend
        self.device = self.backend.device
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self._l2_params = [p for p in self.params if p.ndim >= 2]
        self.history = History()
        self.epoch = 0
        self.step = 0
        self.output: Any = None
        self.batch: list[Tensor] | None = None
        self.stop_training = False
        self.stop_reason: str | None = None
        self.error: BaseException | None = None
        self.resumed_from: str | None = None
        self._callback_states: dict[str, Any] = {}
        self._epoch: _EpochState | None = None  # the epoch in progress
        self._resume_epoch: dict[str, Any] | None = None  # a checkpoint's epoch in progress
        self._resume_rng: dict[str, Any] | None = None
        self._reseed = True  # on several ranks: give each its own random stream at fit()
        self._share: tuple[float, int] = (1.0, -1)  # this rank's weight and rows of the batch
        self._ranks = RankContext(self, comm) if comm.size > 1 else None
        self.config = self._config()

    # --- the run --------------------------------------------------------------------------
    def fit(self, resume: Any = None) -> History:
        """Train (continuing from the checkpoint ``resume`` names, if given); return the
        history."""
        self.model.to(self.device)
        if resume is not None:
            state, file = load_checkpoint(resume)
            self.load_state_dict(state)
            self.resumed_from = file
        if self._ranks is not None:
            self._ranks.start(self.model, reseed=self._reseed)
            self._reseed = False
        self.history.stop_reason = None
        self.stop_training, self.stop_reason, self.error = False, None, None
        try:
            self._call("on_train_begin")
            states, self._callback_states = self._callback_states, {}
            for key, cb in _callback_keys(self.callbacks):
                if key in states:
                    cb.load_state_dict(states[key])
            self._run()
        except BaseException as exc:
            self.error = exc
            if self.history.stop_reason is None:
                self.history.stop_reason = "interrupted" if isinstance(exc, KeyboardInterrupt) \
                    else "error"
            self._end_quietly()
            raise
        finally:
            self._epoch = None
        self._call("on_train_end")
        return self.history

    def _run(self) -> None:
        resumed = self._resume_epoch is not None
        first = self.epoch if resumed else self.epoch + 1
        for epoch in range(first, self.epochs + 1):
            if self.max_iters is not None and self.step >= self.max_iters:
                self.history.stop_reason = "max_iters"
                return
            self.epoch = epoch
            logs: dict[str, Any] = {"epoch": epoch}
            self._call("on_epoch_begin", epoch, logs)
            lr = float(self.optimizer.param_groups[0]["lr"])  # after any warm-up callback
            state = _EpochState(lr, _loader_state(self.train_loader),
                                EpochMeter("accuracy" in self.metrics))
            if self._resume_epoch is not None:
                state.restore(self._resume_epoch, self.backend)
                self._resume_epoch = None
            self._epoch = state
            start = time.perf_counter()
            self.model.train()
            logs.update(self._train_epoch(epoch, state))
            train_time = time.perf_counter() - start
            if self._ranks is not None:
                self._ranks.average_running_stats(self.model)
            if self.val_loader is not None and self.val_every.at_epoch(epoch):
                logs.update(self._validate())
            elif state.val_logs:
                logs.update(state.val_logs)
            self._epoch = None
            logs["lr"] = state.lr
            logs["epoch_time"] = time.perf_counter() - start
            logs["samples_per_s"] = logs.pop("_samples") / max(train_time, 1e-12)
            logs["steps"] = self.step
            self.history.append(logs)
            self.history.steps = self.step
            self._step_scheduler(logs)
            if self.max_iters is not None and self.step >= self.max_iters:
                self.stop_training, self.stop_reason = True, "max_iters"
            elif self.loss_tol is not None and logs["loss"] < self.loss_tol:
                self.stop_training, self.stop_reason = True, "loss_tol"
            for cb in self.callbacks:
                if cb.every is None or cb.every.unit != "epoch" or cb.every.at_epoch(epoch):
                    cb.on_epoch_end(self, epoch, logs)
            if self._ranks is not None:
                self.stop_training = self._ranks.any(self.stop_training)
            if self.stop_training:
                self.history.stop_reason = self.stop_reason or "callback"
                return
        self.history.stop_reason = "epochs"

    def _train_epoch(self, epoch: int, state: _EpochState) -> dict[str, Any]:
        meter, skip = state.meter, state.batches
        if state.rng_start is not None:  # resumed mid-epoch: the loader draws as it did then
            io.set_rng_state(state.rng_start)
        else:
            state.rng_start = io.get_rng_state()
        batches = iter(self.train_loader)
        if self._resume_rng is not None:
            io.set_rng_state(self._resume_rng)
            self._resume_rng = None
        for batch in batches:
            if skip:  # a resumed epoch: the batches its checkpoint had already trained on
                skip -= 1
                continue
            items = self._batch(batch)
            self.batch, self.output = items, None
            if self._ranks is not None:
                self._share = self._ranks.share(self.train_loader)
            loss = self.train_step(items)
            self.step += 1
            state.batches += 1
            meter.add(loss, self.output, items[-1])
            self.output = None
            if self.val_loader is not None and self.val_every.at_step(self.step):
                state.val_logs = self._validate()
            if self._step_callbacks:
                detached = loss.detach()
                for cb in self._step_callbacks:
                    if cb.every is None or cb.every.unit != "step" or cb.every.at_step(self.step):
                        cb.on_step_end(self, self.step, detached)
            if self._collective_stop:
                self.stop_training = self._ranks.any(self.stop_training)
            if self.stop_training or (self.max_iters is not None and self.step >= self.max_iters):
                break
        if not len(meter):
            raise ValueError(f"fit: train_loader yielded no batches in epoch {epoch} (a "
                             "generator can be iterated only once: pass a DataLoader or a list)")
        step_losses, mean, accuracy, samples = meter.read(self._reduction(self.train_loader))
        logs: dict[str, Any] = {"loss": mean}
        if self.nan_guard and not math.isfinite(mean):
            bad = int(np.flatnonzero(~np.isfinite(step_losses))[0])
            first_step = self.step - len(step_losses)
            self.history.append(dict(logs, epoch=epoch, lr=state.lr, steps=self.step))
            self.history.steps = self.step
            self._diverged(epoch, first_step + bad + 1, bad + 1, float(step_losses[bad]),
                           state.lr)
        if accuracy is not None:
            logs["accuracy"] = accuracy
        logs["_samples"] = samples
        return logs

    def train_step(self, batch: list[Tensor]) -> Tensor:
        """One optimizer step on ``batch`` (``[*inputs, target]``, on the device); return the
        batch's mean loss.

        The seed lectures' loop: ``optimizer.zero_grad()``, ``out = model(*inputs)``,
        ``loss = loss_fn(out, target)``, ``loss.backward()``, the explicit L2 gradient, gradient
        clipping, ``optimizer.step()``. It sets :attr:`output` to ``out`` (the accuracy metric
        reads it; an override that leaves it ``None`` gets no accuracy). Override it in a
        subclass to change the step; :meth:`fit` runs the override.
        """
        *inputs, target = batch
        self.optimizer.zero_grad()
        if self._share[1] == 0:  # this rank's share of the global batch is empty
            out, loss = None, zeros((), dtype=self.params[0].dtype, device=self.device)
        else:
            out = self.model(*inputs)
            loss = self.loss_fn(out, target)
            if self._epoch is None or self._epoch.batches == 0:
                check_loss(loss)  # before backward, which would fail less clearly
        if self.nan_guard == "step":
            value = float(loss) if self._ranks is None else self._ranks.global_mean(
                float(loss), self._share[1] if self._share[1] >= 0 else 1)
            if not math.isfinite(value):
                in_epoch = 1 if self._epoch is None else self._epoch.batches + 1
                lr = float(self.optimizer.param_groups[0]["lr"])
                self._diverged(self.epoch, self.step + 1, in_epoch, value, lr)
        if out is not None:
            loss.backward()
        self.sync_gradients()
        if self.l2:
            self._add_l2()
        if self.clip_grad_norm is not None:
            clip_grad_norm_(self.params, self.clip_grad_norm, error_if_nonfinite=False)
        elif self.clip_grad_adaptive is not None:
            clip_grad_adaptive_(self.params, self.clip_grad_adaptive)
        self.optimizer.step()
        self.output = out
        return loss

    def sync_gradients(self) -> None:
        """On several ranks, replace every gradient by the global batch's mean gradient (each
        rank weighted by its share of the batch); nothing on one process. :meth:`train_step`
        calls it after ``backward()`` (an override must too, before clipping and ``step()``)."""
        if self._ranks is not None:
            self._ranks.sync(self._share[0])

    def _reduction(self, loader: Any, per_batch: bool = True) -> Any:
        """The meter's cross-rank reduction for a sharded loader's metrics (per batch for
        training, whose per-step losses the NaN guard reads; totals for an evaluation), else
        None."""
        if self._ranks is None or not is_sharded(loader):
            return None
        return self._ranks.reduce_meter if per_batch else self._ranks.reduce_totals

    def evaluate(self, loader: Iterable) -> dict[str, Any]:
        """``{"loss", "accuracy" (with the accuracy metric), "examples"}`` of the model on
        ``loader``: the mean over examples of ``loss_fn``, under ``no_grad`` and ``eval()``
        (the model's mode is restored after); one host read at the end."""
        model = self.model
        was_training = model.training
        meter = EpochMeter("accuracy" in self.metrics)
        reduction = self._reduction(loader, per_batch=False)
        model.eval()
        try:
            with no_grad():
                for batch in loader:
                    *inputs, target = self._batch(batch)
                    if reduction is not None and target.ndim and target.shape[0] == 0:
                        continue  # this rank's share of the batch is empty
                    out = model(*inputs)
                    meter.add(self.loss_fn(out, target), out, target)
        finally:
            model.train(was_training)
        if not len(meter) and reduction is None:
            raise ValueError("evaluate: the loader yielded no batches")
        _, mean, accuracy, samples = meter.read(reduction)
        if not samples:
            raise ValueError("evaluate: the loader yielded no batches")
        metrics: dict[str, Any] = {"loss": mean}
        if accuracy is not None:
            metrics["accuracy"] = accuracy
        metrics["examples"] = samples
        return metrics

    def _validate(self) -> dict[str, Any]:
        if self._ranks is not None:
            self._ranks.average_running_stats(self.model)
        try:
            metrics = self.evaluate(self.val_loader)
        except ValueError as exc:
            if "no batches" in str(exc):
                raise ValueError("fit: val_loader yielded no batches") from None
            raise
        metrics.pop("examples")
        logs = {f"val_{k}": v for k, v in metrics.items()}
        self._call("on_validation_end", dict(logs, epoch=self.epoch, step=self.step))
        return logs

    def _add_l2(self) -> None:
        """The gradient of l2/2·Σ‖W‖² (weights: parameters with ndim ≥ 2) added to each one's."""
        l2 = self.l2
        for p in self._l2_params:
            extra = p.array * l2
            g = p.grad
            new = extra if g is None else g.array + extra
            p.grad = Tensor.wrap(new, p.backend)

    def _step_scheduler(self, logs: dict[str, Any]) -> None:
        sched = self.scheduler
        if sched is None:
            return
        if isinstance(sched, ReduceLROnPlateau):
            sched.step(logs.get("val_loss", logs["loss"]))
        else:
            sched.step()

    def _batch(self, batch: Any) -> list[Tensor]:
        if isinstance(batch, Tensor) or not isinstance(batch, tuple | list) or len(batch) < 2:
            got = type(batch).__name__ if not isinstance(batch, tuple | list) \
                else f"a {type(batch).__name__} of {len(batch)}"
            raise TypeError(f"fit: each batch must be a tuple (inputs..., target), got {got}")
        items = []
        for b in batch:
            if not isinstance(b, Tensor):
                b = make_tensor(b, device=self.device)
            elif b.backend is not self.backend:
                b = b.to(self.device)
            items.append(b)
        return items

    def _diverged(self, epoch: int, step: int, in_epoch: int, value: float, lr: float) -> None:
        self.history.stop_reason = "nan"
        when = "" if self.nan_guard == "step" else (
            " (checked once per epoch; pass nan_guard='step' to stop at the first bad step)")
        raise TrainingError(
            f"fit: the training loss is {value} at epoch {epoch}, step {in_epoch} of the epoch "
            f"(global step {step}){when}. Training diverged: lower the learning rate (lr={lr:g}), "
            "enable gradient clipping (fit(..., clip_grad_norm=1.0) or clip_grad_adaptive=0.01), "
            "or look for NaN/inf in the inputs and loss with gf.detect_anomaly().",
            epoch=epoch, step=step, history=self.history)

    # --- callbacks --------------------------------------------------------------------------
    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def _end_quietly(self) -> None:
        """``on_train_end`` of every callback while an exception propagates (theirs are
        turned into warnings, so the original one is not masked)."""
        for cb in self.callbacks:
            try:
                cb.on_train_end(self)
            except Exception as exc:  # noqa: BLE001 - reported, the original error wins
                warnings.warn(f"{type(cb).__name__}.on_train_end failed while training was "
                              f"ending on an error: {type(exc).__name__}: {exc}", stacklevel=2)

    # --- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue bit for bit.

        Keys: ``format``, ``version``, ``epoch`` (epochs done, or the one in progress),
        ``step`` (optimizer steps done), ``model``, ``optimizer``, ``scheduler_type`` and
        ``scheduler`` (state_dict, or None), ``rng`` (:func:`gradflow.io.get_rng_state`: the
        CPU generator, which dropout draws from), ``loader``/``val_loader`` (``{"epoch",
        "seed"}``), ``history`` (:meth:`History.state_dict`), ``callbacks`` (``{key: state}``
        of the callbacks with state; key = class name, ``#k`` for the k-th of a class) and
        ``in_epoch`` (saved mid-epoch, by a step trigger: the batches done, their losses and
        counts, the epoch's lr and any validation so far; else ``None``).
        """
        sched, epoch = self.scheduler, self._epoch
        state = {
            "format": CHECKPOINT_FORMAT, "version": 2,
            "epoch": self.epoch, "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler_type": None if sched is None else type(sched).__name__,
            "scheduler": None if sched is None else sched.state_dict(),
            "rng": io.get_rng_state(),
            "loader": epoch.loader if epoch is not None else _loader_state(self.train_loader),
            "val_loader": _loader_state(self.val_loader),
            "history": self.history.state_dict(),
            "callbacks": {key: state for key, cb in _callback_keys(self.callbacks)
                          if (state := cb.state_dict())},
            "in_epoch": None if epoch is None else epoch.state_dict(),
        }
        if self._ranks is not None:  # collective: every rank's random state and progress
            state["world_size"] = self.world_size
            state["ranks"] = self._ranks.gather({"rng": state["rng"],
                                                 "in_epoch": state["in_epoch"]})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned: the model, optimizer, scheduler, loaders,
        CPU random state, history and counters now; the callbacks' states when :meth:`fit`
        begins (after their ``on_train_begin``)."""
        saved_type = state.get("scheduler_type")
        mine = None if self.scheduler is None else type(self.scheduler).__name__
        if saved_type != mine:
            raise ValueError(f"resume: the checkpoint was written with scheduler {saved_type}, "
                             f"but fit was given {mine}; pass the same kind of scheduler")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for loader, saved in ((self.train_loader, state.get("loader")),
                              (self.val_loader, state.get("val_loader"))):
            if saved is not None and loader is not None:
                if hasattr(loader, "load_state_dict"):
                    loader.load_state_dict(saved)
                elif hasattr(loader, "set_epoch"):
                    loader.set_epoch(saved["epoch"])
        rng, in_epoch = state["rng"], state.get("in_epoch")
        mine = None if self._ranks is None else self._ranks.mine(state)
        if mine is not None:
            rng, in_epoch = mine["rng"], mine["in_epoch"]
        self._reseed = self._ranks is not None and mine is None
        io.set_rng_state(rng)
        self.history.load_state_dict(state["history"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self._callback_states = dict(state.get("callbacks") or {})
        self._resume_epoch = in_epoch
        self._resume_rng = rng if self._resume_epoch is not None else None

    def _config(self) -> dict[str, Any]:
        group = self.optimizer.param_groups[0]
        hyper = {k: v for k, v in group.items()
                 if k not in ("params", "initial_lr") and isinstance(v, int | float | str | tuple)}
        return {
            "epochs": self.epochs, "max_iters": self.max_iters, "loss_tol": self.loss_tol,
            "optimizer": type(self.optimizer).__name__, **hyper,
            "scheduler": None if self.scheduler is None else type(self.scheduler).__name__,
            "batch_size": getattr(self.train_loader, "batch_size", None),
            "l2": self.l2, "clip_grad_norm": self.clip_grad_norm,
            "clip_grad_adaptive": self.clip_grad_adaptive, "device": self.device,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "model": type(self.model).__name__,
        }


class _EpochState:
    """The epoch in progress: its lr, the loader's state at its start, the batches done, the
    meter of their losses and the last step-triggered validation."""

    def __init__(self, lr: float, loader: dict[str, Any] | None, meter: EpochMeter):
        self.lr, self.loader, self.meter = lr, loader, meter
        self.batches = 0
        self.val_logs: dict[str, Any] = {}
        self.rng_start: dict[str, Any] | None = None  # the random state before the loader's iter

    def state_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "batches": self.batches, "meter": self.meter.state_dict(),
                "val_logs": dict(self.val_logs), "rng_start": self.rng_start}

    def restore(self, state: dict[str, Any], backend: Any) -> None:
        self.lr, self.batches = float(state["lr"]), int(state["batches"])
        self.rng_start = state.get("rng_start")
        self.meter.load_state_dict(state["meter"], backend)
        self.val_logs = dict(state.get("val_logs") or {})


def _loader_state(loader: Any) -> dict[str, Any] | None:
    if loader is None:
        return None
    if hasattr(loader, "state_dict"):
        return loader.state_dict()
    if hasattr(loader, "epoch"):
        return {"epoch": int(loader.epoch)}
    return None


def _callback_keys(callbacks: list[Callback]) -> list[tuple[str, Callback]]:
    """A stable key per callback: its class name, ``#k`` for the k-th of the same class."""
    counts: dict[str, int] = {}
    keys = []
    for cb in callbacks:
        name = type(cb).__name__
        k = counts.get(name, 0)
        counts[name] = k + 1
        keys.append((name if k == 0 else f"{name}#{k}", cb))
    return keys


def fit(model: Module, loss_fn: Any, optimizer: Optimizer, train_loader: Iterable,
        val_loader: Iterable | None = None, epochs: int = 10, *, scheduler: Any = None,
        callbacks: Sequence[Callback] = (), device: Any = None,
        metrics: Sequence[str] = ("accuracy",), max_iters: int | None = None,
        loss_tol: float | None = None, clip_grad_norm: float | None = None,
        clip_grad_adaptive: float | None = None, l2: float = 0.0,
        nan_guard: bool | str = True, resume: Any = None, progress: bool = True,
        val_every: Any = 1, trainer: type[Trainer] | None = None) -> History:
    """Train ``model`` with the PyTorch-style loop of the seed lectures; return its History.

    Each step: ``optimizer.zero_grad()``, ``out = model(*inputs)``, ``loss = loss_fn(out,
    target)`` (a batch *mean*), ``loss.backward()``, then with ``l2 > 0`` the gradient of the
    explicit penalty l2/2·Σ‖W‖² over the weights (parameters with ndim ≥ 2, so not biases or
    norm scales; distinct from the optimizer's ``weight_decay``) is added to theirs, then
    gradients are clipped (``clip_grad_norm``: total norm ≤ max; ``clip_grad_adaptive``:
    per parameter ‖g‖/max(‖w‖, 1e-3) ≤ factor), then ``optimizer.step()``.

    Each epoch records ``loss`` (the mean over samples of the data loss, without the L2 term),
    ``accuracy`` (with ``"accuracy"`` in ``metrics``: argmax of multi-class logits; one logit
    is positive iff > 0), ``val_loss``/``val_accuracy`` (with ``val_loader``, under ``no_grad``
    and ``model.eval()``), ``lr`` (group 0's, during the epoch), ``epoch_time``,
    ``samples_per_s`` and ``steps``. Per-step losses stay on the device and are read once per
    epoch: no host sync per step. Then the scheduler steps (``ReduceLROnPlateau`` gets
    ``val_loss``, else ``loss``) and the callbacks' ``on_epoch_end`` run.

    Stopping: after ``epochs`` epochs in all (a resumed run counts the epochs it restored),
    after ``max_iters`` optimizer steps in all (mid-epoch: that epoch is recorded as far as it
    went), when an epoch's ``loss < loss_tol``, or when a callback sets
    ``trainer.stop_training`` (``EarlyStopping``). ``History.stop_reason`` says which.

    Args:
        model, loss_fn, optimizer: the network, ``loss_fn(output, target) -> scalar Tensor``,
            and an optimizer over (some of) ``model``'s parameters.
        train_loader, val_loader: re-iterable sources of ``(inputs..., target)`` batches
            (DataLoaders; their ``state_dict`` goes into checkpoints).
        epochs: total epochs (positive int).
        scheduler: an ``optim.lr_scheduler`` object built on ``optimizer`` (another one is a
            ``ValueError``), stepped once per epoch.
        callbacks: ``Callback`` instances (``ModelCheckpoint`` runs after the others).
        device: move the model (in place) and every batch there; ``None``: the model's device.
        metrics: ``("accuracy",)`` or ``()``.
        nan_guard: ``True``/``"epoch"``: after each epoch, a non-finite mean loss raises
            :class:`TrainingError` naming the first bad step (found from the per-step losses
            already on the device, so no extra sync); ``"step"``: check every step before
            ``backward`` (one host sync per step; stops before a bad update); ``False``: off.
        resume: a checkpoint file or a ``ModelCheckpoint`` directory (its ``last.gf``): load
            the model, optimizer, scheduler, loaders, CPU random state, history and callback
            states and continue, bit for bit as if never interrupted (on the CPU; the CuPy
            generator's state cannot be saved, so GPU dropout differs after a resume).
        progress: add a :class:`ProgressBar` (when tqdm is installed and none is given).
        val_every: validate every N epochs (``N`` or ``(N, "epoch")``) or every N optimizer
            steps (``(N, "step")``: each epoch's record gets the last validation in it).
            Checkpoints and any callback take the same ``every`` (``ModelCheckpoint(every=...)``,
            ``callback.every = (N, "step")``); the counts are global, so a resumed run
            triggers at the same steps.
        trainer: a :class:`Trainer` subclass to run (e.g. with its own :meth:`Trainer.train_step`).

    Raises:
        TrainingError: the loss became NaN/inf (``nan_guard``); ``on_train_end`` still ran.
        ValueError / TypeError: bad arguments, naming them.
    """
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    if progress and importlib.util.find_spec("tqdm") is not None \
            and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.insert(0, ProgressBar())
    cls = Trainer if trainer is None else trainer
    if not (isinstance(cls, type) and issubclass(cls, Trainer)):
        raise TypeError(f"fit: trainer must be a Trainer subclass, got {cls!r}")
    run = cls(model, loss_fn, optimizer, train_loader, val_loader, epochs,
              scheduler=scheduler, callbacks=callbacks, device=device, metrics=metrics,
              max_iters=max_iters, loss_tol=loss_tol, clip_grad_norm=clip_grad_norm,
              clip_grad_adaptive=clip_grad_adaptive, l2=l2, nan_guard=nan_guard,
              val_every=val_every)
    return run.fit(resume=resume)
