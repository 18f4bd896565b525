"""Per-instruction-set scaffolding for the C++ kernel families that carry several builds of their loops
(kernels_cpp/isa_builds.h): the baseline copy's, the x86-64-v3 copy's AVX2 and, where the CPU has it, its
AVX-512 ones, switched by each module's ``set_isa`` (kernels_cpp/common.h). A test parametrised over
``isa_copies(family)`` (ids ``isa_id``) runs once per set of loops, each ``with running(module, isa)``."""
import contextlib
import importlib
import importlib.util

import pytest

import torsh


def isa_copies(family):
    """(module, instruction set) for each copy of the C++ family and each set of loops it can run here."""
    torsh.tensor(0.0)  # builds/loads the kernels
    pairs = []
    for name in (f"torsh._kernels.{family}", f"torsh._kernels.{family}_avx2"):
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        own = module.set_isa(module.ISA)  # the loops it runs now, kept
        for isa in ["avx2", "avx512"] if name.endswith("_avx2") else ["baseline"]:
            try:
                module.set_isa(isa)
            except ValueError:
                continue  # no AVX-512 on this CPU
            pairs.append((module, isa))
        module.set_isa(own)
    return pairs


def isa_id(pair):
    """A test id: the module's name and the instruction set, e.g. ``transformer_avx2-avx512``."""
    module, isa = pair
    return f"{module.__name__.rsplit('.', 1)[-1]}-{isa}"


@contextlib.contextmanager
def running(module, isa):
    """``module`` runs the loops of ``isa`` inside the block, its previous ones after it."""
    previous = module.set_isa(isa)
    try:
        yield module
    finally:
        module.set_isa(previous)


def check_isa_names(copies):
    """Each copy names the loops it runs (``ISA``) and refuses loops it does not have."""
    for module, _ in copies:
        assert module.ISA in ("baseline", "avx2", "avx512")
    with pytest.raises(ValueError, match="set_isa: sse9 is not available here"):
        copies[0][0].set_isa("sse9")


def vector_isas(module):
    """The vector loops ``module`` runs here (conv_direct's dispatched copy): its own AVX2 and, where the CPU
    has it, AVX-512; none for a baseline copy (``VECTORISED`` False) or a missing module."""
    if module is None or not module.VECTORISED:
        return []
    names = []
    for isa in ("avx2", "avx512"):
        try:
            with running(module, isa):
                names.append(isa)
        except ValueError:
            pass  # no AVX-512 on this CPU
    return names
