"""warn(): a warning attributed to the user's line (the first frame outside torsh), wherever in torsh it is raised.

A fixed ``stacklevel`` breaks as soon as an op gains a frame (a shared helper, the autocast policy wrapper);
PyTorch's warnings raised from C++ land on the caller's line the same way.
"""
import os
import sys
import warnings

_ROOT = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category=UserWarning):
    frame, stacklevel = sys._getframe(1), 2  # stacklevel 2 is warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_ROOT):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)
