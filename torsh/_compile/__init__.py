"""Fusion of elementwise code: ``torsh.compile`` (see compiled.py)."""
from .compiled import CompiledFunction, compile

__all__ = ["compile", "CompiledFunction"]
