"""``torch.fx.experimental.symbolic_shapes``: the exceptions programs catch around ``torch.export.export``.
torsh's export specializes on values it cannot trace, so these are raised, never guarded on."""

__all__ = ["ConstraintViolationError", "GuardOnDataDependentSymNode"]


class GuardOnDataDependentSymNode(RuntimeError):
    """Python control flow (``bool``, ``int``, ``float``, ``item``) on a value computed from traced inputs."""


class ConstraintViolationError(RuntimeError):
    """An example input outside the range its ``Dim`` declares."""
