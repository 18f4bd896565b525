"""torch.utils.benchmark.Compare: measurements laid out as torch prints them, one table per label, a row per
(num_threads, env, sub_label or stmt), a column per description, medians in one time unit per table."""
import collections
import enum
import itertools
import math
import operator

import numpy as np

from . import common

__all__ = ["Colorize", "Compare"]

BEST = "\033[92m"
GOOD = "\033[34m"
BAD = "\033[2m\033[91m"
VERY_BAD = "\033[31m"
BOLD = "\033[1m"
TERMINATE = "\033[0m"


class Colorize(enum.Enum):
    NONE = "none"
    COLUMNWISE = "columnwise"
    ROWWISE = "rowwise"


def _leading_digits(value):
    return int(math.ceil(np.log10(np.float32(value))))  # float32, as PyTorch computes it


class _Column:
    """One description's cells: a number format wide enough for the largest median, with as many decimals as the
    least precise measurement supports (when trimming significant figures)."""

    def __init__(self, grouped_results, time_scale, trim_significant_figures, highlight_warnings):
        self._grouped_results = grouped_results
        flat = [r for r in itertools.chain.from_iterable(grouped_results) if r]
        self._trim = trim_significant_figures
        self._highlight_warnings = highlight_warnings and any(r.has_warnings for r in flat)
        digits = [(_leading_digits(r.median / time_scale), r) for r in flat]
        unit_digits = max(d for d, _ in digits)
        decimals = min(max(r.significant_figures - d, 0) for d, r in digits) if self._trim else 1
        length = unit_digits + decimals + (1 if decimals else 0)
        self._template = f"{{:>{length}.{decimals}f}}{{:>{7 if self._highlight_warnings else 0}}}"

    def get_results_for(self, group):
        return self._grouped_results[group]

    def num_to_str(self, value, estimated_sigfigs, spread):
        if value is None:
            return " " * len(self.num_to_str(1, estimated_sigfigs, None))
        if self._trim:
            value = common.trim_sigfig(value, estimated_sigfigs)
        flag = f" (! {spread * 100:.0f}%)" if self._highlight_warnings and spread is not None else ""
        return self._template.format(value, flag)


def _color_segment(segment, value, best):
    if value <= best * 1.01 or value <= best + 100e-9:
        return BEST + BOLD + segment + TERMINATE * 2
    if value <= best * 1.1:
        return GOOD + BOLD + segment + TERMINATE * 2
    if value >= best * 5:
        return VERY_BAD + BOLD + segment + TERMINATE * 2
    if value >= best * 2:
        return BAD + segment + TERMINATE * 2
    return segment


class _Row:
    def __init__(self, results, row_group, render_env, env_str_len, time_scale, colorize, num_threads=None):
        self._results, self._row_group = results, row_group
        self._render_env, self._env_str_len = render_env, env_str_len
        self._time_scale, self._colorize = time_scale, colorize
        self._num_threads = num_threads  # set on the first row of a thread group: it prints the separator
        self._columns = ()

    def register_columns(self, columns):
        self._columns = columns

    def as_column_strings(self):
        first = next(r for r in self._results if r is not None)
        env = f"({first.env})" if self._render_env else ""
        cells = ["  " + env.ljust(self._env_str_len + 4) + first.as_row_name]
        for m, column in zip(self._results, self._columns):
            if m is None:
                cells.append(column.num_to_str(None, 1, None))
            else:
                cells.append(column.num_to_str(m.median / self._time_scale, m.significant_figures,
                                               m.iqr / m.median if m.has_warnings else None))
        return cells

    def row_separator(self, overall_width):
        if self._num_threads is None:
            return []
        return [f"{self._num_threads} threads: ".ljust(overall_width, "-")]

    def _best_values(self, n):
        if self._colorize == Colorize.ROWWISE:
            return [min(r.median for r in self._results if r is not None)] * n
        if self._colorize == Colorize.COLUMNWISE:
            medians = ([r.median for r in c.get_results_for(self._row_group) if r is not None] for c in self._columns)
            return [min(m) if m else None for m in medians]
        return [-1] * n

    def finalize_column_strings(self, column_strings, col_widths):
        cells = [column_strings[0].ljust(col_widths[0])]
        best_values = self._best_values(len(column_strings))
        for text, width, result, best in zip(column_strings[1:], col_widths[1:], self._results, best_values):
            text = text.center(width)
            if self._colorize != Colorize.NONE and result is not None and best is not None:
                text = _color_segment(text, result.median, best)
            cells.append(text)
        return cells


class _Table:
    """The measurements of one label."""

    def __init__(self, results, colorize, trim_significant_figures, highlight_warnings):
        if len({r.label for r in results}) != 1:
            raise AssertionError("All results must share the same label")
        self.results, self.label = results, results[0].label
        self._colorize, self._trim, self._highlight_warnings = colorize, trim_significant_figures, highlight_warnings
        self.time_unit, self.time_scale = common.select_unit(min(r.median for r in results))
        self.row_keys = common.ordered_unique(self._row_key(r) for r in results)
        self.row_keys.sort(key=operator.itemgetter(slice(2)))  # by threads and env; stmt order kept
        self.column_keys = common.ordered_unique(r.description for r in results)
        self.rows, self.columns = self._populate()

    @staticmethod
    def _row_key(m):
        return m.num_threads, m.env, m.as_row_name

    def _populate(self):
        cells = [[None] * len(self.column_keys) for _ in self.row_keys]
        row_of = {key: i for i, key in enumerate(self.row_keys)}
        col_of = {key: j for j, key in enumerate(self.column_keys)}
        for r in self.results:
            cells[row_of[self._row_key(r)]][col_of[r.description]] = r
        envs = {r.env for r in self.results}
        render_env = len(envs) > 1
        env_str_len = max(len(e) for e in envs) if render_env else 0
        rows, groups = [], []
        prior_threads, prior_env = -1, ""
        for (num_threads, env, _), row in zip(self.row_keys, cells):
            new_group = num_threads != prior_threads
            if new_group:
                prior_threads, prior_env = num_threads, ""
                groups.append([])
            rows.append(_Row(row, len(groups) - 1, render_env and env != prior_env, env_str_len, self.time_scale,
                             self._colorize, num_threads if new_group else None))
            groups[-1].append(row)
            prior_env = env
        columns = tuple(_Column([tuple(row[j] for row in g) for g in groups], self.time_scale, self._trim,
                                self._highlight_warnings) for j in range(len(self.column_keys)))
        for row in rows:
            row.register_columns(columns)
        return tuple(rows), columns

    def render(self):
        string_rows = [[""] + self.column_keys] + [r.as_column_strings() for r in self.rows]
        width = max(len(r) for r in string_rows)
        for r in string_rows:
            r.extend([""] * (width - len(r)))
        col_widths = [max(len(cell) for cell in column) for column in zip(*string_rows)]
        lines = ["  |  ".join(cell.center(w) for cell, w in zip(string_rows[0], col_widths))]
        overall_width = len(lines[0])
        for strings, row in zip(string_rows[1:], self.rows):
            lines.extend(row.row_separator(overall_width))
            lines.append("  |  ".join(row.finalize_column_strings(strings, col_widths)))
        title = (" " + (self.label or "") + " ").center(overall_width - 2, "-")
        text = f"[{title}]\n" + "\n".join(lines) + \
            f"\n\nTimes are in {common.unit_to_english(self.time_unit)}s ({self.time_unit}).\n"
        if self._highlight_warnings and any(r.has_warnings for r in self.results):
            text += "(! XX%) Measurement has high variance, where XX is the IQR / median * 100.\n"
        return text


class Compare:
    """Measurements as tables (``print()`` or ``str``); ``trim_significant_figures``, ``colorize`` and
    ``highlight_warnings`` change the rendering."""

    def __init__(self, results):
        self._results = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = Colorize.NONE
        self._highlight_warnings = False

    def __str__(self):
        return "\n".join(self._render())

    def extend_results(self, results):
        for r in results:
            if not isinstance(r, common.Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} instead.")
        self._results.extend(results)

    def trim_significant_figures(self):
        self._trim_significant_figures = True

    def colorize(self, rowwise=False):
        self._colorize = Colorize.ROWWISE if rowwise else Colorize.COLUMNWISE

    def highlight_warnings(self):
        self._highlight_warnings = True

    def print(self):
        print(str(self))

    def _render(self):
        by_label = collections.defaultdict(list)
        for r in common.Measurement.merge(self._results):
            by_label[r.label].append(r)
        return [_Table(group, self._colorize, self._trim_significant_figures, self._highlight_warnings).render()
                for group in by_label.values()]
