"""``NoiseScaleMonitor``: the gradient noise scale ``B_simple`` tracked while training.

Every N steps it splits the batch just trained on into chunks of ``small_batch`` examples and
takes their gradients at the current weights (one extra gradient of that batch: ``1/N`` of the
training's backward cost), which give ``|G_small|²`` and the batch gradient's ``|G_big|²``; the
two-batch estimator (:mod:`gradflow.analysis.noise_scale`) turns each pair into ``|G|²`` and
``tr Σ``. At the end of every epoch the epoch's estimates are averaged (the ratio of the means,
as the paper advises) and written to the epoch's logs as ``b_simple``, ``grad_sq_norm`` and
``trace_sigma``, so every logger and the history record them; the values stay on the device
until then (one host read per epoch). As the loss falls, ``b_simple`` grows: the batch size
worth using grows with it (McCandlish et al., 2018).
"""

from __future__ import annotations

from typing import Any

from gradflow.analysis.noise_scale import batch_sq_norms, small_batch_for, two_batch_estimates
from gradflow.train.callbacks import Callback


class NoiseScaleMonitor(Callback):
    """Log ``b_simple`` (and ``grad_sq_norm``, ``trace_sigma``) every epoch.

    Args:
        every: how often to estimate, ``(N, "step")`` (default every 20 steps).
        small_batch: ``B_small``, a divisor of the training batch size smaller than it (default:
            the batch size // 8, at least 1, rounded down to a divisor).

    Needs the trainer's loss to be the batch mean. Batches of another size than the first one
    seen (a short last batch) are skipped. Runs before the loggers (``_order``), so they see the
    values in the epoch's logs.
    """

    _order = -10

    def __init__(self, every: Any = (20, "step"), small_batch: int | None = None):
        self.every = every
        self.small_batch = small_batch
        self._sums: list[Any] = []
        self._b_big: int | None = None
        self.estimates: list[dict[str, float]] = []  #: one per epoch: b_simple, |G|², tr Σ

    def on_step_end(self, trainer, step: int, loss) -> None:
        *inputs, target = trainer.batch
        if len(inputs) != 1:
            raise ValueError("NoiseScaleMonitor: needs batches of (input, target), got "
                             f"{len(inputs)} inputs")
        x = inputs[0]
        if self._b_big is None:
            self._b_big = len(x)
            self._b_small = small_batch_for(self.small_batch, self._b_big, "NoiseScaleMonitor")
        if len(x) != self._b_big:
            return
        params = [p for p in trainer.model.parameters() if p.requires_grad]
        self._sums.append(batch_sq_norms(trainer.model, trainer.loss_fn, params, x, target,
                                         self._b_small))

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, Any]) -> None:
        if not self._sums:
            return
        small = sum(float(s) for s, _ in self._sums) / len(self._sums)
        big = sum(float(b) for _, b in self._sums) / len(self._sums)
        self._sums = []
        dataset = getattr(trainer.train_loader, "dataset", None)
        n = len(dataset) if dataset is not None else None
        g2, trace = two_batch_estimates(small, big, self._b_small, self._b_big, n)
        est = {"b_simple": trace / g2 if g2 else float("inf"), "grad_sq_norm": g2,
               "trace_sigma": trace}
        self.estimates.append({"epoch": epoch, **est})
        logs.update(est)


__all__ = ["NoiseScaleMonitor"]
