"""Static frames: what each torsh view shows where no kernel runs (a saved notebook, nbviewer).

Every view's ``_repr_mimebundle_`` puts, beside its widget, a MIME type that a JupyterLab
renderer draws from the output alone, and a ``text/plain`` summary:

- graph and trace views: torsh's own documents (``application/vnd.torsh.graph+json`` /
  ``trace+json``), drawn by the torsh JupyterLab extension;
- plotly figures (memory timeline, dashboard): ``application/vnd.plotly.v1+json``, the figure's
  data and layout, drawn by plotly's JupyterLab renderer (installed with plotly);
- tables (dispatch view): ``text/html``.

All three renderers are "safe", so they draw in an untrusted notebook too. In a live session
the widget view wins (its renderer ranks first); ``notebooks/tools/execute.py`` saves only the
static frame of such outputs, so a saved tutorial never shows "Loading widget...".
Live views display under a display id and replace their output with the final frame when they
stop, so the saved frame is the last one, not the empty one displayed before the loop.
"""
import html
import re

import plotly.io as pio

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def plotly_frame(figure, title=None):
    """{PLOTLY_MIME: the figure's data, layout and config as JSON}, with ``title`` above the plot."""
    fig = figure.to_dict()
    config = getattr(figure, "_config", None)
    if config:
        fig["config"] = dict(config)
    if title:
        layout = fig.setdefault("layout", {})
        layout["title"] = {"text": html.escape(title), "font": {"size": 12}, "x": 0, "xanchor": "left"}
        margin = dict(layout.get("margin") or {})
        margin["t"] = max(margin.get("t", 0), 40)
        layout["margin"] = margin
    return pio.renderers["plotly_mimetype"].to_mimebundle(fig)


def plain_text(markup):
    """The text of a small piece of HTML (a header line): tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def widget_bundle(widget, static, **kwargs):
    """The widget's own bundle (its view) with the static frame and summary of ``static`` added."""
    data = dict(widget._repr_mimebundle_(**kwargs) or {})
    data.update(static)
    return data
