"""``ember.nn.modules``: every layer class, one module per family (re-exported by ``ember.nn``)."""
from ember.nn.modules.module import Module  # noqa: F401
from ember.nn.modules.container import (  # noqa: F401
    Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict,
)
from ember.nn.modules.linear import Identity, Linear, Bilinear  # noqa: F401
from ember.nn.modules.flatten import Flatten, Unflatten  # noqa: F401
from ember.nn.modules.dropout import (  # noqa: F401
    Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout,
)
from ember.nn.modules.sparse import Embedding, EmbeddingBag  # noqa: F401
from ember.nn.modules.activation import (  # noqa: F401
    Threshold, ReLU, RReLU, Hardtanh, ReLU6, Sigmoid, Hardsigmoid, Tanh, SiLU, Mish, Hardswish, ELU, CELU, SELU,
    GLU, GELU, Hardshrink, LeakyReLU, LogSigmoid, Softplus, Softshrink, PReLU, Softsign, Tanhshrink, Softmin,
    Softmax, Softmax2d, LogSoftmax,
)
from ember.nn.modules.loss import (  # noqa: F401
    L1Loss, MSELoss, SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss, NLLLoss, CrossEntropyLoss, KLDivLoss,
    CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss, TripletMarginWithDistanceLoss, HingeEmbeddingLoss,
    SoftMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, PoissonNLLLoss, GaussianNLLLoss,
)
from ember.nn.modules.conv import (  # noqa: F401
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
)
from ember.nn.modules.pooling import (  # noqa: F401
    MaxPool1d, MaxPool2d, MaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,
    AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, LPPool1d, LPPool2d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d,
)
from ember.nn.modules.normalization import (  # noqa: F401
    BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LayerNorm, GroupNorm,
    RMSNorm, LocalResponseNorm,
)
from ember.nn.modules.upsampling import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d  # noqa: F401
from ember.nn.modules.pixelshuffle import PixelShuffle, PixelUnshuffle  # noqa: F401
from ember.nn.modules.distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from ember.nn.modules.channelshuffle import ChannelShuffle  # noqa: F401
from ember.nn.modules.pooling_extra import LPPool3d  # noqa: F401
from ember.nn.modules.pooling_fractional import AdaptiveMaxPool3d, FractionalMaxPool2d, FractionalMaxPool3d  # noqa: F401
from ember.nn.modules.loss_extra import MultiLabelMarginLoss  # noqa: F401
from ember.nn.modules.ctc import CTCLoss  # noqa: F401
from ember.nn.modules.crossmaplrn import CrossMapLRN2d  # noqa: F401
from ember.nn.modules.adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401
from ember.nn.modules.linear_cross_entropy import LinearCrossEntropyLoss  # noqa: F401
from ember.nn.modules.linear_cross_entropy_options import LinearCrossEntropyOptions  # noqa: F401
from ember.nn.modules.padding import (  # noqa: F401
    ZeroPad1d, ZeroPad2d, ZeroPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d, ReflectionPad1d, ReflectionPad2d,
    ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d, CircularPad1d, CircularPad2d, CircularPad3d,
)
from ember.nn.modules.fold import Fold, Unfold  # noqa: F401
from ember.nn.modules.rnn import (  # noqa: F401
    RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell,
)
from ember.nn.modules.transformer import (  # noqa: F401
    MultiheadAttention, TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder,
    Transformer,
)
from ember.nn.modules.lazy import (  # noqa: F401
    LazyLinear, LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
)
from ember.nn.modules.batchnorm import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, SyncBatchNorm  # noqa: F401
from ember.nn.modules.instancenorm import (  # noqa: F401
    LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d,
)

__all__ = sorted(name for name in dir() if name[0].isupper())  # the layer classes above
