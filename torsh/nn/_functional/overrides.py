"""The ``__torch_function__`` entry points nn.functional re-exports (over torsh's protocol in
torsh/autograd/_torch_function.py) and its argument assertion helper."""
from ...autograd._torch_function import handle_torch_function, has_torch_function as _has_torch_function

__all__ = ["has_torch_function", "has_torch_function_unary", "has_torch_function_variadic", "handle_torch_function",
           "assert_int_or_pair"]


def has_torch_function(relevant_args):
    """True when an object of ``relevant_args`` has a type overriding ``__torch_function__``."""
    return _has_torch_function(relevant_args)


def has_torch_function_unary(obj):
    return _has_torch_function((obj,))


def has_torch_function_variadic(*args):
    return _has_torch_function(args)


def assert_int_or_pair(arg, arg_name, message):
    if not (isinstance(arg, int) or len(arg) == 2):
        raise AssertionError(message.format(arg_name))
