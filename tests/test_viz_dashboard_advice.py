"""The Dashboard shows prof.advise() of the run it watches: one step in ``advise_every`` is profiled and
advised, the findings shown live (``advice_panel``) and in the saved frame (a note under the plots).

The finding provoked here is a float64 buffer in a float32 model; its premise (float32 meeting a
float64 tensor computes in float64) is PyTorch's promotion, checked against torch 2.13.
"""
import pytest

import torsh
import torsh.nn as nn
import torsh.nn.functional as F
import torsh.viz as viz
from torsh.profiler import profile
from torsh.profiler import profiler as profiler_module
from torsh.viz._static import PLOTLY_MIME

from helpers import needs_torch, torch_ref


def _model(lib, float64_scale):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(32, 10)
            # a constant made from a NumPy float64 array stays float64, as in PyTorch
            self.register_buffer("scale", lib.ones(32, dtype=lib.float64 if float64_scale else lib.float32))

        def forward(self, x):
            return self.fc((x * self.scale).float())
    lib.manual_seed(0)
    return Net()


def _train(dash, model, steps):
    opt = torsh.optim.SGD(model.parameters(), lr=0.1)
    x, y = torsh.randn(64, 32), torsh.randint(0, 10, (64,))
    with dash:
        for _ in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            dash.step(loss)


@needs_torch
def test_the_premise_float32_times_float64_is_float64_in_pytorch():
    ref = _model(torch_ref, True)
    assert (torch_ref.randn(2, 32) * ref.scale).dtype == torch_ref.float64
    mine = _model(torsh, True)
    assert (torsh.randn(2, 32) * mine.scale).dtype == torsh.float64


def test_dashboard_advises_a_sampled_step_live_and_in_its_saved_frame():
    dash = viz.Dashboard(interval=float("inf"), dispatch=False, advise_every=3)
    _train(dash, _model(torsh, True), steps=8)
    assert dash.advice_step == 6  # steps 3 and 6 were sampled; the last one's findings are kept
    assert "dtype_upcast" in dash.advice.kinds()
    finding = dash.advice.of_kind("dtype_upcast")[0]
    assert finding.evidence["mixed_float32_float64_ops"]  # where float32 met float64: the aten::mul
    assert profiler_module._active is None  # no profiler left running
    assert "float64 in a float32 program" in dash.advice_panel.value
    assert "advice from step 6" in dash.advice_panel.value
    bundle = dash._repr_mimebundle_()
    assert "dtype_upcast" in bundle["text/plain"]
    notes = [a["text"] for a in bundle[PLOTLY_MIME]["layout"].get("annotations", []) if "advice" in a["text"]]
    assert len(notes) == 1 and "float64 in a float32 program" in notes[0]
    assert len(dash.history) == 8  # sampling does not add or drop steps


def test_no_upcast_advice_for_a_float32_model():
    dash = viz.Dashboard(interval=float("inf"), dispatch=False, advise_every=3)
    _train(dash, _model(torsh, False), steps=5)
    assert dash.advice_step == 3 and "dtype_upcast" not in dash.advice.kinds()
    assert "advice" in dash._repr_mimebundle_()["text/plain"]


def test_no_sampling_when_turned_off_or_under_the_users_profiler():
    dash = viz.Dashboard(interval=float("inf"), dispatch=False, advise_every=0)
    _train(dash, _model(torsh, True), steps=4)
    assert dash.advice is None and dash.advice_panel.value == ""
    assert not [a for a in dash._repr_mimebundle_()[PLOTLY_MIME]["layout"].get("annotations", [])
                if "advice" in a["text"]]
    dash = viz.Dashboard(interval=float("inf"), dispatch=False, advise_every=2)
    with profile() as prof:  # the user's profiler wins: the dashboard does not sample
        _train(dash, _model(torsh, True), steps=4)
    assert dash.advice is None
    assert any(e.name == "aten::mul" for e in prof.events())


def test_stopping_mid_sample_leaves_no_profiler_running():
    dash = viz.Dashboard(interval=float("inf"), dispatch=False, advise_every=2)
    _train(dash, _model(torsh, False), steps=2)  # the step after step 2 was being sampled at stop
    assert profiler_module._active is None and dash.advice is None
    with profile() as prof:
        torsh.ones(3) + 1
    assert prof.events()
    with pytest.raises(RuntimeError, match="already running"):
        dash.start()
        dash.start()
    dash.stop()
