"""torch.nn.functional for torsh: thin wrappers over the ops in torsh._ops.nn_* and short
composites of torsh ops. The families live in torsh/nn/_functional/."""
from ._functional.activation import *  # noqa: F401,F403
from ._functional.conv import *  # noqa: F401,F403
from ._functional.dropout import *  # noqa: F401,F403
from ._functional.linear import *  # noqa: F401,F403
from ._functional.loss import *  # noqa: F401,F403
from ._functional.normalization import *  # noqa: F401,F403
from ._functional.pooling import *  # noqa: F401,F403
from ._functional.sparse import *  # noqa: F401,F403
from ._functional.vision import *  # noqa: F401,F403
from ._functional.attention import *  # noqa: F401,F403
from ._functional.grouped_mm import *  # noqa: F401,F403
from ._functional.overrides import *  # noqa: F401,F403
