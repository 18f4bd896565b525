"""Geometry fuzz of the convolution, pooling, unfold/fold, interpolate and pad ops against PyTorch.

A fixed-seed generator draws a few hundred argument tuples (negative, zero, huge, mismatched
sizes, strides, paddings, dilations, groups, output sizes, scales). torsh runs them in one
subprocess per op family (a crash in a compiled kernel must fail the test, not kill pytest; the
issue's reproducer corrupted the heap and died thousands of ops later), printing one JSON line
per case; PyTorch runs the same cases here. Each case must be accepted or rejected as PyTorch
does: the same exception type, or the same output shape and close values. "Huge" values stay
bounded (paddings of 50, strides of 100) so that nothing allocates more than a few MB.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# Runs a list of cases on the library ``lib``; the same source runs in the torsh subprocess and,
# with lib = torch, in this process.
RUNNER = r'''
import json
import numpy as np


def _tensor(lib, shape, seed):
    data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return lib.tensor(data)


def _call(lib, case, seed):
    F = lib.nn.functional
    op, shape, kw = case["op"], case["shape"], dict(case["kw"])
    x = _tensor(lib, shape, seed)
    if op.startswith("conv"):
        w = _tensor(lib, kw.pop("weight"), seed + 1)
        b = kw.pop("bias", None)
        b = None if b is None else _tensor(lib, b, seed + 2)
        return getattr(F, op)(x, w, b, **kw)
    if op == "fold":
        return F.fold(x, **kw)
    if op == "Unfold":
        return lib.nn.Unfold(**kw)(x)
    if op == "Fold":
        return lib.nn.Fold(**kw)(x)
    return getattr(F, op)(x, **kw)


def run_case(lib, case, seed):
    """{"ok": True, "shape", "values"} or {"ok": False, "type", "msg"} for one case."""
    try:
        out = _call(lib, case, seed)
    except Exception as e:  # the exception type is the result
        return {"ok": False, "type": type(e).__name__, "msg": str(e).split("\n")[0][:200]}
    if isinstance(out, (tuple, list)):
        out = out[0]
    values = out.detach().float().numpy().reshape(-1)
    return {"ok": True, "shape": list(out.shape), "values": values[:4096].tolist()}


def main(lib):
    import sys
    cases = json.loads(sys.stdin.read())
    for i, case in enumerate(cases):
        print(json.dumps(run_case(lib, case, case["seed"])), flush=True)
'''


def _choice(rng, values):
    return values[int(rng.integers(len(values)))]


def _conv_cases(rng, count):
    cases = []
    for _ in range(count):
        nd = int(rng.integers(1, 4))
        transposed = rng.random() < 0.35
        n, c = _choice(rng, [0, 1, 2, 2]), _choice(rng, [1, 2, 3, 4])
        spatial = [int(rng.integers(1, 7 if nd < 3 else 5)) for _ in range(nd)]
        groups = _choice(rng, [1, 1, 1, 2, 0, -1, 3])
        k = [_choice(rng, [1, 2, 3, 4]) for _ in range(nd)]
        o = _choice(rng, [1, 2, 4])
        cw = _choice(rng, [c, c, max(c // max(groups, 1), 1), c + 1])
        weight = [c, o] + k if transposed else [o, cw] + k
        kw = {"weight": weight,
              "stride": _choice(rng, [1, 1, 2, 3, 0, -1, 100]),
              "padding": _choice(rng, [0, 0, 1, 2, -1, 50 if nd < 3 else 9]),
              "dilation": _choice(rng, [1, 1, 2, 0, -1]),
              "groups": groups}
        if rng.random() < 0.3:
            kw["bias"] = [_choice(rng, [o, weight[1] * max(groups, 1) if transposed else o, o + 1])]
        if transposed:
            kw["output_padding"] = _choice(rng, [0, 0, 1, 2, -1])
        op = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"
        cases.append({"op": op, "shape": [n, c] + spatial, "kw": kw})
    return cases


def _pool_cases(rng, count):
    cases = []
    for _ in range(count):
        nd = int(rng.integers(1, 4))
        kind = _choice(rng, ["max", "max", "avg"])
        n, c = _choice(rng, [0, 1, 2, 2]), _choice(rng, [1, 2, 0])
        shape = [n, c] + [int(rng.integers(1, 8 if nd < 3 else 5)) for _ in range(nd)]
        if rng.random() < 0.1:
            shape = shape[1:]  # unbatched
        kw = {"kernel_size": _choice(rng, [1, 2, 3, 7, 0, -1]),
              "stride": _choice(rng, [None, None, 1, 2, 0, -1, 100]),
              "padding": _choice(rng, [0, 0, 1, 2, -1]),
              "ceil_mode": bool(rng.random() < 0.4)}
        if kind == "max":
            # no dilation > 1 with padding: PyTorch then returns windows with no in-bounds element and an
            # index outside the plane (-inf values), which torsh's gather refuses instead of reading out of bounds
            kw["dilation"] = _choice(rng, [1, 1, 0, -1] + ([2] if kw["padding"] == 0 else []))
            op = f"max_pool{nd}d"
            if rng.random() < 0.3:
                kw["return_indices"] = True
        else:
            kw["count_include_pad"] = bool(rng.random() < 0.5)
            op = f"avg_pool{nd}d"
            if nd > 1 and rng.random() < 0.2:
                kw["divisor_override"] = _choice(rng, [0, 3])
        cases.append({"op": op, "shape": shape, "kw": kw})
    return cases


def _adaptive_cases(rng, count):
    cases = []
    for _ in range(count):
        nd = int(rng.integers(1, 4))
        kind = _choice(rng, ["avg", "max"])
        shape = [_choice(rng, [0, 1, 2]), _choice(rng, [1, 2])] + [int(rng.integers(0, 6)) for _ in range(nd)]
        size = [_choice(rng, [1, 2, 3, 7, 0, -1]) for _ in range(nd)]
        cases.append({"op": f"adaptive_{kind}_pool{nd}d", "shape": shape,
                      "kw": {"output_size": size if rng.random() < 0.7 else size[0]}})
    return cases


def _fold_cases(rng, count):
    cases = []
    for _ in range(count):
        k = [_choice(rng, [1, 2, 3, 0, -1]) for _ in range(2)]
        params = {"kernel_size": k, "dilation": _choice(rng, [1, 1, 2, 0]), "padding": _choice(rng, [0, 0, 1, -1]),
                  "stride": _choice(rng, [1, 1, 2, 0, -1])}
        if rng.random() < 0.5:
            shape = [_choice(rng, [0, 1, 2]), _choice(rng, [1, 2, 0])] + [int(rng.integers(1, 7)) for _ in range(2)]
            cases.append({"op": _choice(rng, ["unfold", "Unfold"]), "shape": shape, "kw": params})
        else:
            out = [int(rng.integers(0, 7)) for _ in range(2)]
            kk = max(k[0], 0) * max(k[1], 0)
            planes = _choice(rng, [2 * kk, kk, kk + 1, 3])
            blocks = [max((o + 2 * max(params["padding"], 0) - max(params["dilation"], 0) * (kk_ - 1) - 1)
                          // max(params["stride"], 1) + 1, 0) for o, kk_ in zip(out, k)]
            length = _choice(rng, [blocks[0] * blocks[1], blocks[0] * blocks[1], 5])
            shape = [_choice(rng, [1, 2, 0]), max(planes, 1), max(length, 1)]
            cases.append({"op": _choice(rng, ["fold", "Fold"]), "shape": shape, "kw": dict(params, output_size=out)})
    return cases


def _interpolate_cases(rng, count):
    cases = []
    for _ in range(count):
        nd = int(rng.integers(1, 4))
        mode = _choice(rng, ["nearest", "nearest-exact", "area",
                             {1: "linear", 2: "bilinear", 3: "trilinear"}[nd], "bicubic" if nd == 2 else "nearest"])
        shape = [_choice(rng, [0, 1, 2]), 2] + [int(rng.integers(1, 6)) for _ in range(nd)]
        kw = {"mode": mode}
        if rng.random() < 0.5:
            kw["size"] = _choice(rng, [1, 3, 7, 0, -1])
        else:
            kw["scale_factor"] = _choice(rng, [0.5, 1.5, 2.0, 3.0, 0.0, -1.0, 0.1])
        if mode in ("linear", "bilinear", "trilinear", "bicubic"):
            kw["align_corners"] = bool(rng.random() < 0.5)
        cases.append({"op": "interpolate", "shape": shape, "kw": kw})
    return cases


def _wraps_past_the_kept_part(shape, pad):
    """Circular padding wider than what the negative side leaves: PyTorch then copies from its own
    output's unwritten part (uninitialised memory), so there is no defined answer to compare with."""
    for i in range(len(pad) // 2):
        size, lo, hi = shape[-1 - i], pad[2 * i], pad[2 * i + 1]
        kept = size - max(-lo, 0) - max(-hi, 0)
        if max(lo, 0) > kept or max(hi, 0) > kept:
            return True
    return False


def _pad_cases(rng, count):
    cases = []
    for _ in range(count):
        mode = _choice(rng, ["constant", "reflect", "replicate", "circular"])
        pad_dims = int(rng.integers(1, 4))
        rank = pad_dims + _choice(rng, [1, 2, 2, 0])
        shape = [int(rng.integers(1, 6)) for _ in range(rank)]
        if rng.random() < 0.1:
            shape[-1] = 0
        pad = [int(rng.integers(-3, 4)) for _ in range(2 * pad_dims)]
        if mode == "circular" and _wraps_past_the_kept_part(shape, pad):
            continue
        cases.append({"op": "pad", "shape": shape, "kw": {"pad": pad, "mode": mode}})
    return cases


FAMILIES = {"conv": (_conv_cases, 110), "pool": (_pool_cases, 110), "adaptive": (_adaptive_cases, 40),
            "fold": (_fold_cases, 50), "interpolate": (_interpolate_cases, 60), "pad": (_pad_cases, 70)}


def _cases(family):
    make, count = FAMILIES[family]
    cases = make(np.random.default_rng(sorted(FAMILIES).index(family) + 2026), count)
    for i, case in enumerate(cases):
        case["seed"] = i
    return cases


def _run_torsh(cases):
    """torsh's result per case, from a subprocess that never imports torch."""
    code = RUNNER + "\nimport torsh\nmain(torsh)\n"
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(cases), capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, (f"the torsh subprocess died (exit {proc.returncode}) after {len(lines)} of "
                                  f"{len(cases)} cases; next case: {cases[len(lines)] if len(lines) < len(cases) else None}"
                                  f"\n{proc.stderr[-3000:]}")
    assert len(lines) == len(cases)
    return [json.loads(line) for line in lines]


def _run_torch(cases):
    scope = {}
    exec(RUNNER, scope)
    return [scope["run_case"](torch, case, case["seed"]) for case in cases]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_geometry_fuzz_matches_pytorch(family):
    cases = _cases(family)
    ours, ref = _run_torsh(cases), _run_torch(cases)
    mismatches = []
    for case, a, e in zip(cases, ours, ref):
        if a["ok"] != e["ok"]:
            mismatches.append((case, "accepted" if a["ok"] else f"rejected: {a['type']}: {a['msg']}",
                               "accepted" if e["ok"] else f"rejected: {e['type']}: {e['msg']}"))
        elif not a["ok"] and a["type"] != e["type"]:
            mismatches.append((case, f"{a['type']}: {a['msg']}", f"{e['type']}: {e['msg']}"))
        elif a["ok"] and a["shape"] != e["shape"]:
            mismatches.append((case, f"shape {a['shape']}", f"shape {e['shape']}"))
        elif a["ok"] and not np.allclose(a["values"], e["values"], rtol=1e-4, atol=1e-4, equal_nan=True):
            mismatches.append((case, "values differ", "values differ"))
    accepted = sum(e["ok"] for e in ref)
    assert 0 < accepted < len(cases), "the fuzz should exercise both accepted and rejected cases"
    assert not mismatches, "\n".join(f"{c}\n  torsh: {a}\n  torch: {e}" for c, a, e in mismatches[:15]) + \
        f"\n({len(mismatches)} of {len(cases)} cases differ)"
