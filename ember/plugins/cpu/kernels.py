"""CPU kernels: the shared array-module kernels over numpy, plus fused overrides."""
import warnings

import numpy as np
import scipy.special

from ember.plugins.xp import XpKernels

XP = XpKernels(np, scipy.special)
KERNELS = XP.kernels()

# fused overrides of composites (conv, ...): numpy-specific, kept in their own file
from ember.plugins.cpu import fused  # noqa: E402
KERNELS.update(fused.KERNELS)

# numpy warns on log(0), 0/0 and the like; PyTorch returns inf/nan silently, and so do we.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember\.")
