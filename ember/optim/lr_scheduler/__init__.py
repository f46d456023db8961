"""Learning-rate schedulers (``ember.optim.lr_scheduler``), PyTorch's set and state dicts."""
from ember.optim.lr_scheduler.base import LRScheduler, _LRScheduler  # noqa: F401
from ember.optim.lr_scheduler.simple import (ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR,
                                             MultiStepLR, PolynomialLR, StepLR)
from ember.optim.lr_scheduler.cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from ember.optim.lr_scheduler.cyclic import CyclicLR, OneCycleLR
from ember.optim.lr_scheduler.plateau import ReduceLROnPlateau
from ember.optim.lr_scheduler.composite import ChainedScheduler, SequentialLR

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
           "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"]
