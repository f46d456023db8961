"""CPU kernels: the shared array-module kernels over numpy, plus fused overrides."""
import numpy as np
import scipy.special

from ember.plugins.xp import XpKernels

XP = XpKernels(np, scipy.special)
KERNELS = XP.kernels()
