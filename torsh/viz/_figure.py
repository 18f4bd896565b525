"""Figure: a plotly FigureWidget whose initial traces, layout and config reach the browser.

Seen in JupyterLab 4 with plotly 7.1 + anywidget 0.11 (tests/browser): a FigureWidget often
renders with none of the traces it had when displayed. Plotly opens the widget's comm with
empty ``_widget_data`` / ``_widget_layout`` and sends the real ones as an update right after;
the front end is still loading the model's module (anywidget's ESM) at that moment and the
update is lost, while later edits arrive. Here the comm opens only once plotly has set data,
layout and config, so they are part of the state the front end creates the model from.
Edits made after that (restyle, relayout) are messages again: make figures whole at
construction and edit them once displayed.
"""
import plotly.graph_objects as go

WHEEL_ZOOM = {"scrollZoom": True, "displaylogo": False}  # plotly.js config


class Figure(go.FigureWidget):
    def __init__(self, data=None, layout=None, config=None, **kwargs):
        self._defer_open = True  # Widget.__init__ would open the comm before plotly sets the data
        try:
            super().__init__(data=data, layout=layout, **kwargs)
            if config is not None:
                self._config = config
        finally:
            self._defer_open = False
        self.open()

    def open(self):
        if not getattr(self, "_defer_open", False):
            super().open()
