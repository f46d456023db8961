"""ember.utils: tools around the core, as ``torch.utils`` (``ember.utils.data`` is the data pipeline)."""
from ember.utils import data  # noqa: F401
from ember.utils import checkpoint, hooks  # noqa: F401,E402
