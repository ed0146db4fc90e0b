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
from gradflow.distributed import barrier
from gradflow.train.callbacks import Callback
from gradflow.train.triggers import Trigger

if TYPE_CHECKING:
    from gradflow.train.trainer import Trainer

__all__ = ["ModelCheckpoint", "CHECKPOINT_FORMAT", "find_checkpoint", "load_checkpoint",
           "list_checkpoints", "LAST_NAME"]

CHECKPOINT_FORMAT = "gradflow.train.checkpoint"
LAST_NAME = "last.gf"
_NAME = {"epoch": re.compile(r"^ckpt-epoch(\d{4,})\.gf$"),
         "step": re.compile(r"^ckpt-step(\d{7,})\.gf$")}


def checkpoint_name(count: int, unit: str = "epoch") -> str:
    """``ckpt-epochNNNN.gf`` or ``ckpt-stepNNNNNNN.gf``."""
    return f"ckpt-epoch{count:04d}.gf" if unit == "epoch" else f"ckpt-step{count:07d}.gf"


def list_checkpoints(directory: str | os.PathLike, unit: str = "epoch") -> list[tuple[int, str]]:
    """``(epoch, path)`` of every ``ckpt-epochNNNN.gf`` in ``directory`` (``unit="step"``:
    ``(step, path)`` of every ``ckpt-stepNNNNNNN.gf``), oldest first."""
    found = []
    for name in os.listdir(directory):
        m = _NAME[unit].match(name)
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
        found = list_checkpoints(path) or list_checkpoints(path, "step")
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
    """Save the training state (:meth:`Trainer.state_dict`) every ``every`` epochs to
    ``dir/ckpt-epoch{N:04d}.gf``, or with ``every=(N, "step")`` every N optimizer steps to
    ``dir/ckpt-step{N:07d}.gf`` (mid-epoch: the resumed run skips the batches already trained
    on and finishes the epoch bit for bit).

    Each save is atomic (:func:`gradflow.io.save`), then ``dir/last.gf`` is made the same file
    (a hard link, or a copy where the filesystem has none) and only the ``keep_last`` newest
    files up to this one are kept (``None`` keeps all; files of later epochs, from an
    earlier run, are left alone until overwritten). ``fit(..., resume=dir)`` continues from
    ``last.gf``. It runs after the other callbacks' ``on_epoch_end``, so their state for the
    epoch is in the file.

    A checkpoint written when ``max_iters`` or a callback cut an epoch short resumes at the
    next epoch.

    On several ranks every rank runs it (the state gathers every rank's random state and
    in-epoch progress) and rank 0 writes the files.

    Attributes:
        last_path: the file written last (``None`` before any); ``saved``: every file written.
    """

    _order = 100  # after every other callback

    def __init__(self, dir: str | os.PathLike, every: Any = 1,  # noqa: A002 - the public name
                 keep_last: int | None = 3):
        if keep_last is not None and (isinstance(keep_last, bool) or
                                      not isinstance(keep_last, numbers.Integral) or
                                      keep_last < 1):
            raise ValueError(f"ModelCheckpoint: keep_last must be a positive int, got "
                             f"{keep_last!r}")
        if isinstance(every, bool) or (isinstance(every, numbers.Number) and
                                       not isinstance(every, numbers.Integral)):
            raise ValueError(f"ModelCheckpoint: every must be a positive int, got {every!r}")
        if isinstance(every, numbers.Integral) and every < 1:
            raise ValueError(f"ModelCheckpoint: every must be a positive int, got {every!r}")
        self.dir = os.fspath(dir)
        self.every = Trigger.parse(every, "ModelCheckpoint: every")
        self.keep_last = None if keep_last is None else int(keep_last)
        self.last_path: str | None = None
        self.saved: list[str] = []

    def on_train_begin(self, trainer: Trainer) -> None:
        if os.path.exists(self.dir) and not os.path.isdir(self.dir):
            raise NotADirectoryError(f"ModelCheckpoint: {self.dir!r} exists and is not a "
                                     "directory")
        os.makedirs(self.dir, exist_ok=True)

    def on_step_end(self, trainer: Trainer, step: int, loss: Any) -> None:
        if self.every.at_step(step):
            self._save(trainer, step)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.every.at_epoch(epoch):
            self._save(trainer, epoch)

    def _save(self, trainer: Trainer, count: int) -> None:
        path = os.path.join(self.dir, checkpoint_name(count, self.every.unit))
        state = trainer.state_dict()  # on several ranks a collective: every rank calls it
        self.last_path = path
        self.saved.append(path)
        if getattr(trainer, "rank", 0) == 0:  # rank 0 writes, the others wait for the file
            io.save(state, path)
            _replace_with_link(path, os.path.join(self.dir, LAST_NAME))
            self._rotate(count)
        if getattr(trainer, "world_size", 1) > 1:
            barrier()

    def _rotate(self, count: int) -> None:
        if self.keep_last is None:
            return
        older = [p for e, p in list_checkpoints(self.dir, self.every.unit) if e <= count]
        for p in older[:-self.keep_last]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)

    def __repr__(self) -> str:
        every = self.every.n if self.every.unit == "epoch" else self.every
        return f"ModelCheckpoint({self.dir!r}, every={every}, keep_last={self.keep_last})"
