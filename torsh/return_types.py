"""torch.return_types: the named tuples ops return (``x.max(0)`` gives ``return_types.max(values=...,
indices=...)``), declared once here with PyTorch's type names, field names and repr.

Each is a tuple (unpacking, indexing and ``==`` with a plain tuple work) whose fields are also attributes; the
repr prints one field per line as PyTorch's structseq does. Ops build them as ``return_types.max(values,
indices)``.
"""
import collections

_VALUES_INDICES = ("cummax", "cummin", "kthvalue", "max", "median", "min", "mode", "nanmedian", "sort", "topk")
_FIELDS = {name: ("values", "indices") for name in _VALUES_INDICES}
_FIELDS.update({
    "aminmax": ("min", "max"), "frexp": ("mantissa", "exponent"), "geqrf": ("a", "tau"),
    "histogram": ("hist", "bin_edges"), "histogramdd": ("hist", "bin_edges"),
    "linalg_cholesky_ex": ("L", "info"), "linalg_eig": ("eigenvalues", "eigenvectors"),
    "linalg_eigh": ("eigenvalues", "eigenvectors"), "linalg_inv_ex": ("inverse", "info"),
    "linalg_ldl_factor": ("LD", "pivots"), "linalg_ldl_factor_ex": ("LD", "pivots", "info"),
    "linalg_lstsq": ("solution", "residuals", "rank", "singular_values"), "linalg_lu": ("P", "L", "U"),
    "linalg_lu_factor": ("LU", "pivots"), "linalg_lu_factor_ex": ("LU", "pivots", "info"),
    "linalg_qr": ("Q", "R"), "linalg_slogdet": ("sign", "logabsdet"), "linalg_solve_ex": ("result", "info"),
    "linalg_svd": ("U", "S", "Vh"), "lu_unpack": ("P", "L", "U"), "qr": ("Q", "R"),
    "slogdet": ("sign", "logabsdet"), "svd": ("U", "S", "V"), "triangular_solve": ("solution", "cloned_coefficient"),
})


def _structseq(name, fields):
    """A tuple type named ``name`` with attribute ``fields``, printed as PyTorch prints its structseqs."""
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{field}={value!r}" for field, value in zip(fields, self))
        return f"{__name__}.{name}(\n{body})"

    namespace = {"__slots__": (), "__repr__": __repr__, "__module__": __name__, "n_fields": len(fields),
                 "n_sequence_fields": len(fields), "n_unnamed_fields": 0}
    return type(name, (base,), namespace)


for _name, _fields in sorted(_FIELDS.items()):
    globals()[_name] = _structseq(_name, _fields)

all_return_types = [globals()[name] for name in _FIELDS]
__all__ = [*_FIELDS, "all_return_types"]
