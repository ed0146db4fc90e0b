"""Training: ``fit`` (the seed lectures' PyTorch-style loop), callbacks and loggers.

    from gradflow.train import fit, EarlyStopping, ModelCheckpoint
    history = fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader, epochs=20,
                  callbacks=[EarlyStopping(patience=3), ModelCheckpoint("ckpt")])
    history["val_loss"], history.stop_reason

Interrupted? ``fit(..., resume="ckpt")`` continues from ``ckpt/last.gf`` bit for bit.
"""

from gradflow.train.callbacks import Callback, EarlyStopping
from gradflow.train.checkpoint import ModelCheckpoint, find_checkpoint, load_checkpoint
from gradflow.train.history import History
from gradflow.train.loggers import (
    CSVLogger,
    DVCLiveLogger,
    MLflowLogger,
    TensorBoardLogger,
    WandbLogger,
)
from gradflow.train.noise import NoiseScaleMonitor
from gradflow.train.progress import ProgressBar
from gradflow.train.reporting import CurvesPlot, EpochTable, plot_curves
from gradflow.train.trainer import Trainer, TrainingError, fit
from gradflow.train.triggers import Trigger

__all__ = ["fit", "Trainer", "History", "Callback", "EarlyStopping", "ModelCheckpoint",
           "CSVLogger", "TensorBoardLogger", "MLflowLogger", "WandbLogger", "DVCLiveLogger",
           "EpochTable", "CurvesPlot", "plot_curves", "ProgressBar", "TrainingError",
           "find_checkpoint", "load_checkpoint", "Trigger", "NoiseScaleMonitor"]
