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
from ember.optim.lbfgs import LBFGS
from ember.optim.asgd import ASGD
from ember.optim.adafactor import Adafactor
from ember.optim.muon import Muon
from ember.optim.sparse_adam import SparseAdam
from ember.optim import lr_scheduler  # noqa: F401
from ember.optim._stateless import swap_in_optimizer_params_and_state

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta",
           "Rprop", "LBFGS", "ASGD", "Adafactor", "Muon", "SparseAdam", "lr_scheduler", "swa_utils",
           "swap_in_optimizer_params_and_state"]


def __getattr__(name):
    # swa_utils needs ember.nn (AveragedModel is a Module): imported on first use, keeping `import ember` light
    if name == "swa_utils":
        import importlib
        return importlib.import_module("ember.optim.swa_utils")
    raise AttributeError(f"module 'ember.optim' has no attribute '{name}'")
