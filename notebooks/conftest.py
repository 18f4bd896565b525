"""nbval settings for the tutorials: the views' static frames are not compared.

A view's output carries its text/plain summary (compared as usual) and a static frame for saved notebooks
(torsh/viz/_static.py): a torsh graph/trace document or a plotly figure. Those documents hold numbers that
shift whenever any earlier cell records one more autograd node or op (sequence numbers, event counts,
timings), so comparing them would fail on changes that are not regressions; tests/test_viz_static.py checks
the frames themselves.
"""
from nbval.plugin import IPyNbFile

STATIC_FRAMES = ("application/vnd.torsh.graph+json", "application/vnd.torsh.trace+json",
                 "application/vnd.plotly.v1+json")

_init = IPyNbFile.__init__


def _init_skipping_static_frames(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.skip_compare = tuple(self.skip_compare) + STATIC_FRAMES


IPyNbFile.__init__ = _init_skipping_static_frames
