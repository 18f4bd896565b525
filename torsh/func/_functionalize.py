"""torch.func.functionalize and replace_all_batch_norm_modules_.

``functionalize`` rewrites a function's mutations and views into out-of-place ops for graph capture; torsh runs
eagerly, where the rewritten function computes exactly what the original does (input mutations included, which
functionalize copies back), so the transform checks its argument and returns the function unchanged in effect.
"""
import functools

from ..nn.modules.batchnorm import _BatchNorm

__all__ = ["functionalize", "replace_all_batch_norm_modules_"]


def functionalize(func, *, remove="mutations"):
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}."
            " Valid options are:\n"
            "     remove='mutations': all inplace and out= operators will be removed from the program, and replaced"
            " with their out-of-place equivalents.\n"
            "     remove='mutations_and_views': In addition to the above, all aliasing operators {view} will be"
            " replaced with their non-aliasing counterparts, {view}_copy.\n")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapped


def _without_running_stats(module):
    if isinstance(module, _BatchNorm) and module.track_running_stats:
        module.running_mean = None
        module.running_var = None
        module.num_batches_tracked = None
        module.track_running_stats = False


def replace_all_batch_norm_modules_(root):
    """Turn every BatchNorm module under ``root`` (``root`` included) into one without running statistics, in
    place (as vmap over a batch needs), and return ``root``."""
    _without_running_stats(root)
    for module in root.modules():
        _without_running_stats(module)
    return root
