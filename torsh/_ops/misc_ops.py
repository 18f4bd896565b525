"""Common torch functions the wider surface lacked: is_nonzero, ..."""
__all__ = ["is_nonzero"]


def is_nonzero(input):
    """True when the one-element ``input`` is not zero (PyTorch's errors for other sizes)."""
    if input._data.size == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if input._data.size > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(()))
