"""torch.utils.benchmark (Timer, Measurement, Compare) against PyTorch 2.13: the same measurements (fixed times)
must give the same statistics, repr and tables; the Timer is checked on what it controls (runs, threads, globals)."""
import numpy as np
import pytest

import torsh
import torsh.utils.benchmark as benchmark
from helpers import check_same_error, needs_torch, torch_ref as torch

pytestmark = needs_torch
if torch is not None:
    import torch.utils.benchmark as torch_benchmark


def _times(seed, scale, spread, n):
    return list(np.random.default_rng(seed).normal(scale, spread, n).clip(scale / 10))


def _measurements(lib, n=9, spread=0.1, env_of=lambda i: None, label_of=lambda i: "add"):
    """Measurements of 2 sub-labels x 2 descriptions x 2 thread counts, with fixed pseudo-random times."""
    cases = [("float", "n=1"), ("float", "n=4"), ("int", "n=1"), ("int", "n=4")]
    out = []
    for i, (sub_label, description) in enumerate(cases):
        for threads in (1, 2):
            spec = lib.TaskSpec(stmt="x + 1", setup="x = torch.ones(3)", label=label_of(i), sub_label=sub_label,
                                description=description, env=env_of(i), num_threads=threads)
            times = _times(10 * i + threads, 3e-5 * (i + 1), 3e-5 * (i + 1) * spread, n)
            out.append(lib.Measurement(100, times, spec))
    return out


def _tables(lib, options, **kw):
    compare = lib.Compare(_measurements(lib, **kw))
    for option in options:
        getattr(compare, option)()
    return str(compare)


@pytest.mark.parametrize("options", [(), ("trim_significant_figures",), ("colorize",), ("highlight_warnings",),
                                     ("trim_significant_figures", "highlight_warnings", "colorize")], ids=str)
@pytest.mark.parametrize("spread", [0.01, 0.3])
def test_compare_prints_pytorchs_table(options, spread):
    ours = _tables(benchmark, options, spread=spread)
    assert ours == _tables(torch_benchmark, options, spread=spread)
    assert "Times are in nanoseconds (ns)." in ours


def test_compare_rowwise_colours_envs_labels_and_merged_replicates():
    envs = dict(env_of=lambda i: "A" if i % 2 else "B", label_of=lambda i: "add" if i < 2 else "mul")
    for lib in (benchmark, torch_benchmark):
        compare = lib.Compare(_measurements(lib, **envs))
        compare.extend_results(_measurements(lib, **envs))  # replicates: merged into one cell each
        compare.colorize(rowwise=True)
        if lib is benchmark:
            ours = str(compare)
        else:
            assert ours == str(compare)
    assert "(A)" in ours and "[" in ours and "mul" in ours


def test_compare_leaves_missing_cells_blank():
    for lib in (benchmark, torch_benchmark):
        results = _measurements(lib)[1:]  # one (row, column) without a measurement
        if lib is benchmark:
            ours = str(lib.Compare(results))
        else:
            assert ours == str(lib.Compare(results))


def test_compare_print_writes_the_table(capsys):
    benchmark.Compare(_measurements(benchmark)).print()
    assert capsys.readouterr().out == _tables(torch_benchmark, ()) + "\n"


@pytest.mark.parametrize("n", [1, 3, 9])
@pytest.mark.parametrize("spread", [0.01, 0.15, 0.5])
def test_measurement_statistics_and_repr_match_pytorch(n, spread):
    ours, ref = _measurements(benchmark, n, spread)[5], _measurements(torch_benchmark, n, spread)[5]
    for name in ("median", "mean", "iqr"):
        assert getattr(ours, name) == pytest.approx(getattr(ref, name), rel=1e-12)
    assert ours.times == ref.times
    assert ours.significant_figures == ref.significant_figures
    assert ours.has_warnings == ref.has_warnings
    assert ours.meets_confidence(0.2) == ref.meets_confidence(0.2)
    assert (ours.title, ours.env, ours.as_row_name, ours.num_threads) == (ref.title, ref.env, ref.as_row_name,
                                                                          ref.num_threads)
    # the first line names the object (its address); the rest is the report
    assert repr(ours).splitlines()[1:] == repr(ref).splitlines()[1:]


def test_multiline_statements_and_setups_are_summarised_as_pytorch():
    for lib in (benchmark, torch_benchmark):
        spec = lib.TaskSpec(stmt="y = x * 2\ny += 1", setup="import math\nx = 3", sub_label="s", description="d")
        m = lib.Measurement(10, [1e-3, 2e-3, 3e-3, 4e-3], spec)
        if lib is benchmark:
            ours = repr(m).splitlines()[1:]
        else:
            assert ours == repr(m).splitlines()[1:]


def test_helpers_match_pytorch():
    for t in (3e-9, 2.5e-7, 4e-5, 0.02, 7.0):
        assert benchmark.select_unit(t) == torch_benchmark.select_unit(t)
    for x, n in ((3.14159, 2), (0.000123456, 3), (98765.4, 1), (1.5, 4)):
        assert benchmark.trim_sigfig(x, n) == torch_benchmark.trim_sigfig(x, n)
    assert benchmark.unit_to_english("us") == "microsecond"
    assert benchmark.ordered_unique([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_merge_extrapolates_to_single_runs():
    ms = _measurements(benchmark)
    merged = benchmark.Measurement.merge(ms + ms)
    assert len(merged) == len(ms)
    assert merged[0].number_per_run == 1 and merged[0].times == ms[0].times * 2


def test_timer_timeit_runs_the_statement_number_times_plus_warmup():
    calls = []
    m = benchmark.Timer("f()", globals={"f": lambda: calls.append(1)}, label="f").timeit(300)
    assert len(calls) == 300 + 3  # warm-up: number // 100 runs (at least 2)
    assert isinstance(m, benchmark.Measurement) and m.number_per_run == 300 and len(m.raw_times) == 1
    assert m.median > 0 and m.title == "f"


def test_timer_uses_torsh_as_torch_and_its_setup():
    m = benchmark.Timer("y = torch.mm(x, x)", setup="x = torch.ones(4, 4)").timeit(10)
    assert m.stmt == "y = torch.mm(x, x)" and m.setup == "x = torch.ones(4, 4)"
    seen = {}
    benchmark.Timer("seen['torch'] = torch", globals={"seen": seen}).timeit(2)
    assert seen["torch"] is torsh


def test_num_threads_is_set_for_the_run_and_restored():
    before = torsh.get_num_threads()
    seen = []
    timer = benchmark.Timer("seen.append(torch.get_num_threads())", globals={"seen": seen}, num_threads=1)
    m = timer.blocked_autorange(min_run_time=0.01)
    assert set(seen) == {1} and torsh.get_num_threads() == before
    assert m.num_threads == 1


def test_blocked_autorange_spends_at_least_min_run_time():
    m = benchmark.Timer("sum(range(100))").blocked_autorange(min_run_time=0.05)
    assert sum(m.raw_times) >= 0.05
    assert m.number_per_run >= 1 and all(t > 0 for t in m.times)


def test_adaptive_autorange_stops_on_confidence_or_max_run_time():
    m = benchmark.Timer("sum(range(100))").adaptive_autorange(threshold=0.5, max_run_time=0.5)
    assert len(m.raw_times) > 3 or sum(m.raw_times) > 0.5


def test_autorange_and_repeat_point_to_blocked_autorange():
    for method in ("repeat", "autorange"):
        check_same_error(lambda lib: getattr(lib.utils.benchmark.Timer("pass"), method)())


def test_collect_callgrind_raises_os_error():
    with pytest.raises(OSError):
        benchmark.Timer("pass").collect_callgrind(10)
    check_same_error(lambda lib: lib.utils.benchmark.Timer("pass").collect_callgrind(10, repeats=0))


def test_constructor_errors_match_pytorch():
    check_same_error(lambda lib: lib.utils.benchmark.Timer(lambda: None))
    check_same_error(lambda lib: lib.utils.benchmark.Timer("pass", global_setup="#include <x>"))
    check_same_error(lambda lib: lib.utils.benchmark.Compare([1]))
