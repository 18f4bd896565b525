"""Each kernel family is declared once (torsh/backend/families.py): the build, the sources, the compiled
modules, the dispatcher, the calibrator and the ops agree with that declaration, and the kernels with their
declared NumPy references (which agree with PyTorch)."""
import importlib
import importlib.machinery
import pathlib
import re

import numpy as np
import pytest

from helpers import needs_torch, torch_ref
from torsh._ops import registry
from torsh.backend import dispatch, families, kernels
from torsh.backends import calibrate

ROOT = pathlib.Path(__file__).resolve().parents[1]
FAMILIES = {family.name: family for family in families.FAMILIES}
PYTHRAN = [f for f in families.FAMILIES if f.language == families.PYTHRAN]
CPP = [f for f in families.FAMILIES if f.language == families.CPP]
AVX2_BUILT = all(importlib.util.find_spec(f.modules[1]) for f in families.FAMILIES)
PASS_OPS = [op for op in families.ops().values() if op.calibration == families.PASS]


def _copies(family):
    """The compiled modules of ``family``: the baseline copy, and the x86-64-v3 copy where it is built."""
    names = family.modules if AVX2_BUILT else family.modules[:1]
    return [importlib.import_module(name) for name in names]


# -- the build ---------------------------------------------------------------------------------------------
def _meson_lists():
    """{list: [family names]}: meson.build's ``kernel_families`` and the literal lists its loops run over."""
    text = (ROOT / "meson.build").read_text()
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    lists = {"kernel_families": re.search(r"kernel_families\s*=\s*\[(.*?)\]", text, re.S).group(1)}
    for i, body in enumerate(re.findall(r"foreach\s+family\s*:\s*\[(.*?)\]", text, re.S)):
        lists[f"foreach {i}"] = body
    return {key: re.findall(r"'(\w+)'", body) for key, body in lists.items()}


def test_meson_builds_exactly_the_declared_families():
    lists = _meson_lists()
    assert lists.pop("kernel_families") == [f.name for f in PYTHRAN], "meson.build's Pythran families"
    assert sorted(name for names in lists.values() for name in names) == sorted(f.name for f in CPP), \
        "meson.build's C++ families"


def test_every_kernel_source_is_a_declared_family():
    assert sorted(p.stem for p in (ROOT / "kernels_pythran").glob("*.py")) == sorted(f.name for f in PYTHRAN)
    assert sorted(p.stem for p in (ROOT / "kernels_cpp").glob("*.cpp")) == sorted(f.name for f in CPP)
    assert all((ROOT / f.source).is_file() for f in families.FAMILIES)


def test_the_built_modules_are_the_declared_ones():
    """The extension modules next to the loaded ones are the declared families' copies, no more, no fewer."""
    folder = pathlib.Path(importlib.util.find_spec(families.FAMILIES[0].modules[0]).origin).parent
    built = {p.name.split(".", 1)[0] for p in folder.iterdir()
             if p.is_file() and p.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))}
    expected = {name.rsplit(".", 1)[1] for f in families.FAMILIES for name in f.modules[:2 if AVX2_BUILT else 1]}
    assert built == expected
    assert kernels.load_errors() == {}  # TORSH_REQUIRE_KERNELS=1 runs would not have imported otherwise


# -- the entry points --------------------------------------------------------------------------------------
def _split_args(text):
    """Split a Pythran export's argument list at its top-level commas."""
    args, depth, current = [], 0, ""
    for char in text:
        depth += char in "[(" and 1 or (char in "])" and -1 or 0)
        if char == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += char
    return args + [current.strip()] if current.strip() else args


def _pythran_exports(family):
    source = (ROOT / family.source).read_text()
    return sorted((name, tuple(_split_args(args)))
                  for name, args in re.findall(r"^#\s*pythran export (\w+)\((.*)\)\s*$", source, re.M))


def _cpp_formats(family):
    """{entry point: PyArg_ParseTuple format} of a C++ family, and the names its method table exports."""
    source = (ROOT / family.source).read_text()
    formats = {}
    for name, body in re.findall(r"^PyObject\*\s+(\w+)\(PyObject\*, PyObject\* args\)\s*\{(.*?)^\}", source, re.S | re.M):
        formats[name] = re.search(r'PyArg_ParseTuple\(args,\s*"([^"]*)"', body).group(1)
    table = re.search(r"PyMethodDef methods\[\] = \{(.*?)\{nullptr", source, re.S).group(1)
    return formats, re.findall(r'\{"(\w+)",', table)


# Declared entry points must exist with the declared layout; an entry point the source adds is not an error
# here (a kernel may be written before its op), and is declared when an op calls it.
@pytest.mark.parametrize("family", PYTHRAN, ids=lambda f: f.name)
def test_pythran_layouts_are_the_sources_exports(family):
    exports = _pythran_exports(family)
    for entry in family.entries:
        declared = sorted((entry.name, tuple(_split_args(entry.args.replace("T", dtype)))) for dtype in family.dtypes)
        assert declared == [export for export in exports if export[0] == entry.name], entry.name


@pytest.mark.parametrize("family", CPP, ids=lambda f: f.name)
def test_cpp_layouts_are_the_sources_argument_formats(family):
    formats, exported = _cpp_formats(family)
    for entry in family.entries:
        assert entry.name in exported, f"{family.source} does not export {entry.name}"
        assert entry.args == formats[entry.name], entry.name


@pytest.mark.skipif(not AVX2_BUILT, reason="x86-64-v3 copies are only built on x86-64 without -Dmarch")
def test_both_instruction_set_copies_are_built_for_every_family():
    assert all(importlib.util.find_spec(f.modules[1]) for f in families.FAMILIES)


@pytest.mark.parametrize("family", families.FAMILIES, ids=lambda f: f.name)
def test_every_declared_entry_point_exists_in_each_copy(family):
    for module in _copies(family):
        for entry in family.entries:
            assert callable(getattr(module, entry.name, None)), f"{module.__name__}.{entry.name}"


def test_a_kernel_op_calls_only_its_familys_entry_points():
    for family in families.FAMILIES:
        entries = {entry.name for entry in family.entries}
        for op in family.ops:
            assert op.entries and set(op.entries) <= entries, (family.name, op.name)
    names = [op.name for family in families.FAMILIES for op in family.ops]
    assert len(names) == len(set(names)), "an op is declared by two families"


# -- what is derived from the declarations -----------------------------------------------------------------
def test_dispatch_kernels_and_calibration_derive_their_tables():
    assert kernels.FAMILIES == tuple(f.name for f in families.FAMILIES)
    assert set(kernels.available()) == set(FAMILIES)
    assert dispatch._FAMILY == {op: f.name for f in families.FAMILIES for op in (o.name for o in f.ops)}
    assert list(dispatch.thresholds) == list(families.ops())
    if dispatch.thresholds_source == "built-in defaults":  # no calibration cache loaded over them
        assert dispatch.thresholds == {op.name: (op.simd, op.parallel) for op in families.ops().values()}
    assert set(calibrate.NOT_CALIBRATED) == {op.name for op in families.ops().values() if op.calibration is None}
    for op in families.ops().values():
        assert op.calibration in (None, families.PASS, *calibrate.RECIPES), op.name
        if op.calibration == families.PASS:
            assert op.reference is not None and op.operands and len(op.entries) == 1, op.name


def _torsh_sources():
    return {path: path.read_text() for path in (ROOT / "torsh").rglob("*.py")}


def test_the_ops_name_only_declared_kernels():
    """The registry's kernel column, the dispatch calls written in the ops and the entry points they call
    on ``kernels.get("<family>")`` are all declared."""
    ops, entries = families.ops(), {(f.name, e.name) for f in families.FAMILIES for e in f.entries}
    assert {entry.kernel for entry in registry.entries() if entry.kernel} <= set(ops)
    dispatched, called, named = set(), set(), set()
    for text in _torsh_sources().values():
        dispatched |= set(re.findall(r'dispatch\.(?:call|unary|binary|reduce_rows|runs_numpy)\(\s*"(\w+)"', text))
        called |= set(re.findall(r'kernels\.get\("(\w+)"\)\.(\w+)\(', text))
        named |= set(re.findall(r'kernels\.get\("(\w+)"\)', text))
    assert dispatched and dispatched <= set(ops)
    assert called and called <= entries
    assert named and named <= set(FAMILIES)


def test_dispatch_runs_a_pass_op_on_its_declared_entry():
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    saved = dispatch.thresholds["exp"]
    dispatch.set_thresholds("exp", simd=0, parallel=np.inf)
    try:
        with dispatch.record() as records:
            out = dispatch.unary("exp", x, np.exp)
    finally:
        dispatch.set_thresholds("exp", *saved)
    assert records[-1].variant == "pythran_simd"
    np.testing.assert_allclose(out, families.ops()["exp"].reference(x), rtol=1e-6)


# -- the NumPy references ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("numel", [777, 70_001])
@pytest.mark.parametrize("spec", PASS_OPS, ids=lambda op: op.name)
def test_each_copy_of_a_pass_kernel_matches_its_numpy_reference(spec, numel, dtype):
    operands = spec.sample_operands(numel, np.random.default_rng(numel), dtype)
    expected = spec.reference(*operands)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for module in _copies(FAMILIES[families.family_of()[spec.name]]):
        for parallel in (False, True):
            out = np.full_like(expected, np.nan)
            getattr(module, spec.entries[0])(*operands, out, parallel)
            np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol,
                                       err_msg=f"{module.__name__}.{spec.entries[0]} parallel={parallel}")


def _torch_forms():
    """PyTorch 2.13's op for each PASS op's reference, on tensors in the same layout."""
    t, F = torch_ref, torch_ref.nn.functional
    return {
        "add": t.add, "sub": t.sub, "mul": t.mul, "div": t.div, "copy": t.clone, "exp": t.exp, "tanh": t.tanh,
        "sigmoid": t.sigmoid, "relu": t.relu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
        "sum_rows": lambda x: x.sum(1), "max_rows": lambda x: x.amax(1),
        "logsumexp_rows": lambda x: t.logsumexp(x, 1),
        "softmax": lambda x: t.softmax(x, 1), "log_softmax": lambda x: t.log_softmax(x, 1),
        "softmax_backward": lambda y, g: t._softmax_backward_data(g, y, 1, y.dtype),
        "log_softmax_backward": lambda y, g: t._log_softmax_backward_data(g, y, 1, y.dtype),
    }


@needs_torch
def test_the_numpy_references_agree_with_pytorch():
    forms = _torch_forms()
    assert set(forms) == {op.name for op in PASS_OPS}
    for spec in PASS_OPS:
        operands = spec.sample_operands(3000, np.random.default_rng(1), np.float64)
        expected = forms[spec.name](*(torch_ref.from_numpy(a) for a in operands)).numpy()
        ours = spec.reference(*operands)
        assert ours.dtype == expected.dtype, spec.name
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12, err_msg=spec.name)
