"""IPython magics: ``%load_ext torsh.viz``, then

    %%torsh_profile [--record-shapes] [--memory] [--row-limit N] [model] [optimizer]
    <cell>                    # runs under torsh.profiler.profile; shows trace_view (flame chart + op table);
                              # with --memory also a memory timeline, split by category when the model
                              # and/or optimizer are named (else parameters and gradients count as 0 B)

    %torsh_memory [model] [optimizer] [--reset-peak]
                              # live and peak bytes, by category (names looked up in the namespace)

Loading the extension also starts the process-wide dispatch count read by ``kernel_stats()``.
The profile of the last ``%%torsh_profile`` cell is kept in the namespace as ``_torsh_prof``.
"""
import html

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..backend import memory
from ._live import human_bytes
from .stats import CATEGORIES, categorized


@magics_class
class TorshMagics(Magics):
    @magic_arguments()
    @argument("--record-shapes", action="store_true", help="record input shapes (Input Dims in the trace)")
    @argument("--memory", action="store_true", help="profile_memory=True, and show a memory timeline")
    @argument("--row-limit", type=int, default=30, help="rows of the op table")
    @argument("names", nargs="*", help="model and/or optimizer variable names, for the memory split by category")
    @cell_magic
    def torsh_profile(self, line, cell):
        """Profile the cell with torsh.profiler and show its trace (flame chart) with the op table."""
        from ..profiler import profile
        from ._trace_view import trace_view
        args = parse_argstring(self.torsh_profile, line)
        model, optimizer = self._model_and_optimizer(args.names, "torsh_profile")
        timeline = None
        if args.memory:
            from .memory_view import MemoryTimeline
            timeline = MemoryTimeline(model, optimizer, interval=float("inf"))  # drawn once, after the cell
            timeline.start()
        try:
            with profile(record_shapes=args.record_shapes, profile_memory=args.memory) as prof:
                result = self.shell.run_cell(cell, store_history=False)
        finally:
            if timeline is not None:
                timeline.stop()
        self.shell.user_ns["_torsh_prof"] = prof
        display(trace_view(prof, row_limit=args.row_limit))
        if timeline is not None:
            display(timeline)
        if result.error_in_exec is not None or result.error_before_exec is not None:
            print("torsh_profile: the cell raised; the trace shows what ran before the error")

    @magic_arguments()
    @argument("names", nargs="*", help="model and/or optimizer variable names, for the split by category")
    @argument("--reset-peak", action="store_true", help="reset the peak to the live bytes after showing it")
    @line_magic
    def torsh_memory(self, line):
        """Show tensor memory: live (allocated) bytes, peak, and the split by category."""
        args = parse_argstring(self.torsh_memory, line)
        model, optimizer = self._model_and_optimizer(args.names, "torsh_memory")
        report = memory_report(model, optimizer)
        display({"text/plain": report_text(report), "text/html": report_html(report)}, raw=True)
        if args.reset_peak:
            memory.reset_peak()


    def _model_and_optimizer(self, names, magic):
        """(model, optimizer) named in the user namespace: the one with param_groups is the optimizer."""
        model = optimizer = None
        for name in names:
            if name not in self.shell.user_ns:
                raise NameError(f"{magic}: name '{name}' is not defined")
            value = self.shell.user_ns[name]
            if hasattr(value, "param_groups"):
                optimizer = value
            else:
                model = value
        return model, optimizer


def memory_report(model=None, optimizer=None):
    split = categorized(model, optimizer)
    return {"allocated_bytes": memory.live_bytes(), "peak_bytes": memory.peak_bytes(), "by_category": split}


def report_text(report):
    lines = [f"allocated: {human_bytes(report['allocated_bytes'])} ({report['allocated_bytes']:,} B)",
             f"peak:      {human_bytes(report['peak_bytes'])} ({report['peak_bytes']:,} B)"]
    if report["by_category"] is not None:
        for name in (*CATEGORIES, "total"):
            lines.append(f"  {name.replace('_', ' '):18s} {report['by_category'][name]:>14,} B")
    return "\n".join(lines)


def report_html(report):
    rows = [("allocated", report["allocated_bytes"]), ("peak", report["peak_bytes"])]
    if report["by_category"] is not None:
        rows += [(name.replace("_", " "), report["by_category"][name]) for name in (*CATEGORIES, "total")]
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td style='text-align:right'>{human_bytes(v)}</td><td style='text-align:right'>{v:,} B</td></tr>"
                   for k, v in rows)
    return f"<b>torsh memory</b><table>{body}</table>"


def load_ipython_extension(ipython):
    from .stats import start_counting
    ipython.register_magics(TorshMagics)
    start_counting()


def unload_ipython_extension(ipython):
    from .stats import stop_counting
    stop_counting()
