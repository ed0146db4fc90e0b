"""``ModelCheckpoint``: atomic, rotated training checkpoints that ``fit(resume=...)`` continues.

A checkpoint is one :func:`gradflow.io.save` file (safetensors + JSON, written atomically)
holding the whole training state (see :meth:`gradflow.train.Trainer.state_dict`).
"""

from __future__ import annotations

import contextlib
import numbers
import os
import re
import shutil
from typing import TYPE_CHECKING, Any

from gradflow import io
from gradflow.train.callbacks import Callback

if TYPE_CHECKING:
    from gradflow.train.trainer import Trainer

__all__ = ["ModelCheckpoint", "CHECKPOINT_FORMAT", "find_checkpoint", "load_checkpoint",
           "list_checkpoints", "LAST_NAME", "training_state", "restore_training_state",
           "load_callback_states"]

CHECKPOINT_FORMAT = "gradflow.train.checkpoint"
LAST_NAME = "last.gf"
_NAME = re.compile(r"^ckpt-epoch(\d{4,})\.gf$")


def checkpoint_name(epoch: int) -> str:
    return f"ckpt-epoch{epoch:04d}.gf"


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, str]]:
    """``(epoch, path)`` of every ``ckpt-epochNNNN.gf`` in ``directory``, oldest first."""
    found = []
    for name in os.listdir(directory):
        m = _NAME.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(directory, name)))
    return sorted(found)


def find_checkpoint(path: str | os.PathLike) -> str:
    """The checkpoint file ``path`` names: a file itself, or in a directory ``last.gf``
    (else the newest ``ckpt-epochNNNN.gf``)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        last = os.path.join(path, LAST_NAME)
        if os.path.isfile(last):
            return last
        found = list_checkpoints(path)
        if not found:
            raise FileNotFoundError(f"resume: the directory {path!r} holds no checkpoint (no "
                                    f"{LAST_NAME} and no ckpt-epochNNNN.gf)")
        return found[-1][1]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"resume: no checkpoint file or directory at {path!r}")
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """(the training state stored at ``path`` (a file or a checkpoint directory), its file)."""
    file = find_checkpoint(path)
    state = io.load(file, map_location="cpu")  # load_state_dict copies onto the model's device
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"resume: {file!r} is a gradflow file but not a training checkpoint "
                         "(written by ModelCheckpoint); to load bare weights use "
                         "model.load_state_dict(gf.load(path))")
    return state, file


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


def training_state(trainer: Trainer) -> dict[str, Any]:
    """Everything a resumed run needs to continue bit for bit.

    Keys: ``format``, ``version``, ``epoch`` (epochs done), ``step`` (optimizer steps done),
    ``model`` (state_dict), ``optimizer`` (state_dict), ``scheduler_type`` and ``scheduler``
    (state_dict, or None), ``rng`` (:func:`gradflow.io.get_rng_state`: the CPU generator, which
    dropout draws from), ``loader``/``val_loader`` (``{"epoch", "seed"}``), ``history``
    (:meth:`History.state_dict`) and ``callbacks`` (``{key: state}`` of the callbacks with
    state, e.g. EarlyStopping's best value, wait and best weights; key = class name, ``#k``
    for the k-th of a class).
    """
    sched = trainer.scheduler
    return {
        "format": CHECKPOINT_FORMAT, "version": 1,
        "epoch": trainer.epoch, "step": trainer.step,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler_type": None if sched is None else type(sched).__name__,
        "scheduler": None if sched is None else sched.state_dict(),
        "rng": io.get_rng_state(),
        "loader": _loader_state(trainer.train_loader),
        "val_loader": _loader_state(trainer.val_loader),
        "history": trainer.history.state_dict(),
        "callbacks": {key: state for key, cb in _callback_keys(trainer.callbacks)
                      if (state := cb.state_dict())},
    }


def restore_training_state(trainer: Trainer, resume: str | os.PathLike) -> dict[str, Any]:
    """Load the checkpoint ``resume`` names into ``trainer``'s objects (all but the callbacks:
    :func:`load_callback_states`, after their ``on_train_begin``); return the state."""
    state, file = load_checkpoint(resume)
    saved_type = state.get("scheduler_type")
    mine = None if trainer.scheduler is None else type(trainer.scheduler).__name__
    if saved_type != mine:
        raise ValueError(f"resume: {file!r} was written with scheduler {saved_type}, but fit "
                         f"was given {mine}; pass the same kind of scheduler")
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    for loader, saved in ((trainer.train_loader, state.get("loader")),
                          (trainer.val_loader, state.get("val_loader"))):
        if saved is not None and loader is not None:
            if hasattr(loader, "load_state_dict"):
                loader.load_state_dict(saved)
            elif hasattr(loader, "set_epoch"):
                loader.set_epoch(saved["epoch"])
    io.set_rng_state(state["rng"])
    trainer.history.load_state_dict(state["history"])
    trainer.epoch, trainer.step = int(state["epoch"]), int(state["step"])
    trainer.resumed_from = file
    return state


def load_callback_states(trainer: Trainer, states: dict[str, Any]) -> None:
    """Give each callback its saved state (matched by :func:`training_state`'s keys)."""
    for key, cb in _callback_keys(trainer.callbacks):
        if key in states:
            cb.load_state_dict(states[key])


def _replace_with_link(src: str, dst: str) -> None:
    """Make ``dst`` the same file as ``src`` (a hard link; a copy where links fail), atomically,
    through :func:`gradflow.io.save`'s temporary files (so stale ones are cleaned the same way)."""
    with io._temporary(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, dst)
    io._clean_stale_temps(dst)


class ModelCheckpoint(Callback):
    """Save the training state every ``every`` epochs to ``dir/ckpt-epoch{N:04d}.gf``.

    Each save is atomic (:func:`gradflow.io.save`), then ``dir/last.gf`` is made the same file
    (a hard link, or a copy where the filesystem has none) and only the ``keep_last`` newest
    epoch files up to this one are kept (``None`` keeps all; files of later epochs, from an
    earlier run, are left alone until overwritten). ``fit(..., resume=dir)`` continues from
    ``last.gf``. It runs after the other callbacks' ``on_epoch_end``, so their state for the
    epoch is in the file.

    A checkpoint written when ``max_iters`` or a callback cut an epoch short resumes at the
    next epoch.

    Attributes:
        last_path: the file written last (``None`` before any); ``saved``: every file written.
    """

    _order = 100  # after every other callback

    def __init__(self, dir: str | os.PathLike, every: int = 1,  # noqa: A002 - the public name
                 keep_last: int | None = 3):
        for key, value in (("every", every), ("keep_last", keep_last)):
            if key == "keep_last" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"ModelCheckpoint: {key} must be a positive int, got {value!r}")
        self.dir = os.fspath(dir)
        self.every = int(every)
        self.keep_last = None if keep_last is None else int(keep_last)
        self.last_path: str | None = None
        self.saved: list[str] = []

    def on_train_begin(self, trainer: Trainer) -> None:
        if os.path.exists(self.dir) and not os.path.isdir(self.dir):
            raise NotADirectoryError(f"ModelCheckpoint: {self.dir!r} exists and is not a "
                                     "directory")
        os.makedirs(self.dir, exist_ok=True)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if epoch % self.every:
            return
        path = os.path.join(self.dir, checkpoint_name(epoch))
        io.save(training_state(trainer), path)
        _replace_with_link(path, os.path.join(self.dir, LAST_NAME))
        self.last_path = path
        self.saved.append(path)
        self._rotate(epoch)

    def _rotate(self, epoch: int) -> None:
        if self.keep_last is None:
            return
        older = [p for e, p in list_checkpoints(self.dir) if e <= epoch]
        for p in older[:-self.keep_last]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)

    def __repr__(self) -> str:
        return f"ModelCheckpoint({self.dir!r}, every={self.every}, keep_last={self.keep_last})"
