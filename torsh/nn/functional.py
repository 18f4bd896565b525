"""torch.nn.functional for torsh: thin wrappers over the ops in torsh._ops.nn and short
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

import sys as _sys  # noqa: E402
import types as _types  # noqa: E402

from .._ops import registry as _registry  # noqa: E402

_NOT_OPS = ("torsh.nn._functional.overrides", "torsh.autograd._torch_function")  # has_torch_function & co


def _declare(namespace):
    """Declare every function of torch.nn.functional in the registry (namespace "torsh.nn.functional"): the
    families in torsh/nn/_functional/ define them; this is where they become this namespace's ops."""
    for name, value in sorted(namespace.items()):
        if (not name.startswith("_") and isinstance(value, _types.FunctionType)
                and (value.__module__ or "").startswith("torsh") and value.__module__ not in _NOT_OPS):
            _registry.register(value, name, namespace="torsh.nn.functional", method=False, out=False)


_declare(globals())
_registry.bind_namespace(_sys.modules[__name__])
