"""DataPipes (``torch.utils.data.datapipes``): composable iterable- and map-style datasets.

``datapipe.py`` holds the base classes, ``DataChunk`` and the typing/determinism decorators;
``iter.py`` and ``map.py`` the built-in pipes, each registered under its functional name
(``IterableWrapper(range(10)).map(f).batch(4)``).
"""
from ember.utils.data.datapipes import iter, map  # noqa: F401  (registers the functional forms)
from ember.utils.data.datapipes.datapipe import (  # noqa: F401
    DataChunk, DFIterDataPipe, IterDataPipe, MapDataPipe, argument_validation, functional_datapipe,
    guaranteed_datapipes_determinism, non_deterministic, runtime_validation, runtime_validation_disabled,
)
