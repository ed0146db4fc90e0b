"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta) and learning-rate schedulers
(``lr_scheduler``)."""

from gradflow.optim import lr_scheduler
from gradflow.optim.adadelta import Adadelta
from gradflow.optim.adagrad import Adagrad
from gradflow.optim.adam import Adam, AdamW
from gradflow.optim.optimizer import Optimizer
from gradflow.optim.rmsprop import RMSprop
from gradflow.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "lr_scheduler"]
