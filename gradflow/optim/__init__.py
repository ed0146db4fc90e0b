"""Optimizers (SGD, Adam, AdamW, RMSprop) and learning-rate schedulers (``lr_scheduler``)."""

from gradflow.optim import lr_scheduler
from gradflow.optim.adam import Adam, AdamW
from gradflow.optim.optimizer import Optimizer
from gradflow.optim.rmsprop import RMSprop
from gradflow.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
