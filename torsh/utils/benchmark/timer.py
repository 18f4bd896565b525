"""torch.utils.benchmark.Timer: timeit with warm-up, torsh's thread count set for the run, blocks of runs sized
automatically, and the result as a ``Measurement``."""
import enum
import shutil
import textwrap
import timeit as _timeit

import numpy as np

import torsh
from . import common

__all__ = ["Timer", "timer", "Language"]

timer = _timeit.default_timer  # torsh runs on the CPU only: nothing to synchronise


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


def _dedent(code):
    code = textwrap.dedent(code)
    return (code[1:] if code and code[0] == "\n" else code).rstrip()


class Timer:
    """Times ``stmt`` after ``setup`` in ``globals`` (``torch`` is torsh there unless given) on ``num_threads``
    threads; ``label``, ``sub_label``, ``description`` and ``env`` name the result for ``Compare``."""

    _timer_cls = _timeit.Timer

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=timer, globals=None, label=None,
                 sub_label=None, description=None, env=None, num_threads=1, language=Language.PYTHON):
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        self._globals = dict(globals or {})  # a copy: exec adds __builtins__
        if language in (Language.CPP, "cpp", "c++"):
            raise NotImplementedError("torsh.utils.benchmark.Timer times Python statements only (no C++ timer)")
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"Invalid language `{language}`.")
        self._globals.setdefault("torch", torsh)
        if global_setup:
            raise ValueError(f"global_setup is C++ only, got `{global_setup}`. Most likely this code can simply be "
                             "moved to `setup`.")
        stmt, setup = _dedent(stmt), _dedent(setup)
        self._timer = self._timer_cls(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = common.TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup, label=label,
                                          sub_label=sub_label, description=description, env=env,
                                          num_threads=num_threads)

    def _timeit(self, number):
        return max(self._timer.timeit(number), 1e-9)  # a zero time would break the statistics

    def _measurement(self, number, times):
        return common.Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def timeit(self, number=1000000):
        """One block of ``number`` runs, after a warm-up of ``number // 100`` (at least 2)."""
        with common.set_torch_threads(self._task_spec.num_threads):
            self._timeit(number=max(int(number // 100), 2))
            return self._measurement(number, [self._timeit(number=number)])

    def repeat(self, repeat=-1, number=-1):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _measurement_loop(self, number, stop, min_run_time, max_run_time=None, callback=None):
        """Blocks of ``number`` runs until ``min_run_time`` seconds are spent and ``stop(times)`` agrees (or
        ``max_run_time`` is spent)."""
        total, times, can_stop = 0.0, [], False
        with common.set_torch_threads(self._task_spec.num_threads):
            while total < min_run_time or not can_stop:
                spent = self._timeit(number)
                times.append(spent)
                total += spent
                if callback:
                    callback(number, spent)
                can_stop = stop(times)
                if max_run_time and total > max_run_time:
                    break
        return times

    def _estimate_block_size(self, min_run_time):
        """The smallest power of ten of runs whose block dwarfs the timer's own overhead."""
        with common.set_torch_threads(self._task_spec.num_threads):
            overhead = float(np.median([self._timeit(0) for _ in range(5)]))
            number = 1
            while True:
                taken = self._timeit(number)
                if overhead / taken <= 1e-4 and taken >= min_run_time / 1000:
                    break
                if taken > min_run_time or number * 10 > 2147483647:
                    break
                number *= 10
        return number

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Blocks of a size estimated first, for at least ``min_run_time`` seconds in all."""
        number = self._estimate_block_size(min_run_time)
        return self._measurement(number, self._measurement_loop(number, lambda times: True, min_run_time,
                                                                callback=callback))

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0, callback=None):
        """Blocks until the interquartile range is below ``threshold`` of the median (or ``max_run_time``)."""
        number = self._estimate_block_size(min_run_time=0.05)

        def confident(times):
            return len(times) > 3 and self._measurement(number, times).meets_confidence(threshold=threshold)
        return self._measurement(number, self._measurement_loop(number, confident, min_run_time, max_run_time,
                                                                callback=callback))

    def collect_callgrind(self, number=100, *, repeats=None, collect_baseline=True, retain_out_file=False):
        """Instruction counts need PyTorch's valgrind bindings, which torsh has not: raises OSError as PyTorch does
        where valgrind is missing or unsupported."""
        if not isinstance(self._task_spec.stmt, str):
            raise ValueError("`collect_callgrind` currently only supports string `stmt`")
        if repeats is not None and repeats < 1:
            raise ValueError("If specified, `repeats` must be >= 1")
        self._timeit(1)  # as PyTorch: the statement must run before anything is collected
        missing = [cmd for cmd in ("valgrind", "callgrind_control", "callgrind_annotate") if shutil.which(cmd) is None]
        if missing:
            raise OSError("Missing: " + ", ".join(missing))
        raise OSError("Valgrind is not supported on this platform.")
