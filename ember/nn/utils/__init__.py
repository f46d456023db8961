"""nn.utils: gradient clipping, parameter/vector conversion, packed sequences, parametrizations,
weight and spectral norm, functional calls and conv/linear + batch-norm fusion."""
from ember.nn.utils import clip_grad, convert_parameters, rnn  # noqa: F401
from ember.nn.utils.clip_grad import (  # noqa: F401
    clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm,
)
from ember.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from ember.nn.utils import parametrize, parametrizations, stateless, fusion  # noqa: F401,E402
from ember.nn.utils.fusion import (  # noqa: F401,E402
    fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights,
)
from ember.nn.utils.weight_norm import weight_norm, remove_weight_norm  # noqa: F401,E402
from ember.nn.utils.spectral_norm import spectral_norm, remove_spectral_norm  # noqa: F401,E402
from ember.nn.utils.init import skip_init  # noqa: F401,E402
from ember.nn.utils.memory_format import (  # noqa: F401,E402
    convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format,
)
