"""ember.optim: optimizers and learning-rate schedulers with PyTorch's API and checkpoints.

Each optimizer lives in its own small module and implements only its per-parameter
``init_state`` and ``update``; ``Optimizer`` (optimizer.py) does the rest.
"""
from ember.optim.optimizer import Optimizer
from ember.optim.sgd import SGD
from ember.optim.adam import Adam
from ember.optim.adamw import AdamW
from ember.optim.rmsprop import RMSprop
from ember.optim.adagrad import Adagrad
from ember.optim.adamax import Adamax
from ember.optim.nadam import NAdam
from ember.optim.radam import RAdam
from ember.optim.adadelta import Adadelta
from ember.optim.rprop import Rprop
from ember.optim import lr_scheduler  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta",
           "Rprop", "lr_scheduler"]
