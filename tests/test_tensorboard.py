"""torsh.utils.tensorboard.SummaryWriter: event files read back with tensorboard's reader, compared with
what torch.utils.tensorboard writes for the same calls."""
import glob
import os

import numpy as np
import pytest

import torsh
from helpers import needs_torch, torch_ref

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402
from tensorboard.plugins.hparams import metadata as hp_metadata  # noqa: E402
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData  # noqa: E402

from torsh.utils.tensorboard import SummaryWriter  # noqa: E402

HIST_VALUES = np.random.default_rng(0).normal(size=500)
IMAGE_CHW = np.random.default_rng(1).random((3, 6, 10)).astype(np.float32)
IMAGE_HWC_U8 = np.random.default_rng(2).integers(0, 256, (5, 7, 3)).astype(np.uint8)
IMAGES_NCHW = np.random.default_rng(3).random((10, 3, 4, 5)).astype(np.float32)


def write_session(lib, writer_cls, log_dir):
    """The same sequence of calls, with tensors from ``lib`` (torsh or torch)."""
    with writer_cls(log_dir) as w:
        for step in range(3):
            w.add_scalar("loss", lib.tensor(1.0 / (step + 1)), step)
        w.add_scalar("lr", 0.25, 7)
        w.add_scalar("np_value", np.float32(3.5), 1)
        w.add_scalars("run", {"a": 1.0, "b": lib.tensor(2.0)}, 4)
        w.add_histogram("weights", lib.tensor(HIST_VALUES), 2)
        w.add_histogram("weights_fd", HIST_VALUES, 2, bins="fd")
        w.add_histogram("weights_coarse", lib.tensor(HIST_VALUES), 3, max_bins=16)
        w.add_image("chw", lib.tensor(IMAGE_CHW), 0)
        w.add_image("hwc_u8", lib.tensor(IMAGE_HWC_U8), 1, dataformats="HWC")
        w.add_image("gray_hw", IMAGE_CHW[0], 1, dataformats="HW")
        w.add_images("batch", lib.tensor(IMAGES_NCHW), 2)
        w.add_text("note", "hello *tensorboard*", 5)
        w.add_hparams({"lr": 0.1, "opt": "sgd", "nesterov": True, "none": None},
                      {"hparam/acc": 0.75}, run_name="hp", global_step=9)


def events_by_run(log_dir):
    """{relative run dir: [Event without wall_time, ...]} for every event file below ``log_dir``."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "**", "events.out.tfevents.*"), recursive=True)):
        run = os.path.relpath(os.path.dirname(path), log_dir)
        events = []
        for event in EventFileLoader(path).Load():
            event.ClearField("wall_time")
            events.append(event)
        runs.setdefault(run, []).extend(events)
    return runs


def accumulator(run_dir):
    acc = event_accumulator.EventAccumulator(run_dir, size_guidance={k: 0 for k in event_accumulator.DEFAULT_SIZE_GUIDANCE})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def torsh_dir(tmp_path_factory):
    log_dir = str(tmp_path_factory.mktemp("torsh_run"))
    write_session(torsh, SummaryWriter, log_dir)
    return log_dir


@needs_torch
def test_events_equal_pytorchs(torsh_dir, tmp_path):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    write_session(torch_ref, TorchWriter, str(tmp_path))
    ours, theirs = events_by_run(torsh_dir), events_by_run(str(tmp_path))
    assert sorted(ours) == sorted(theirs)
    for run in theirs:
        assert len(ours[run]) == len(theirs[run]), run
        for mine, ref in zip(ours[run], theirs[run]):
            if ref.HasField("file_version"):
                assert mine.file_version == ref.file_version
                continue
            assert mine == ref, f"run {run}: torsh {mine} vs torch {ref}"


def test_scalars_read_back(torsh_dir):
    acc = accumulator(torsh_dir)
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert [(e.step, e.value) for e in acc.Scalars("lr")] == [(7, 0.25)]
    assert acc.Scalars("np_value")[0].value == 3.5
    for name, value in (("a", 1.0), ("b", 2.0)):
        sub = accumulator(os.path.join(torsh_dir, "run_" + name))
        assert [(e.step, e.value) for e in sub.Scalars("run")] == [(4, value)]


def test_histogram_buckets(torsh_dir):
    acc = accumulator(torsh_dir)
    (event,) = acc.Histograms("weights")
    hist = event.histogram_value
    assert event.step == 2
    assert hist.num == 500 and hist.min == HIST_VALUES.min() and hist.max == HIST_VALUES.max()
    assert hist.sum == pytest.approx(HIST_VALUES.sum())
    assert hist.sum_squares == pytest.approx((HIST_VALUES ** 2).sum())
    assert sum(hist.bucket) == 500 and hist.bucket[0] == 0  # leftmost empty bucket carries the lower edge
    limits = np.array(hist.bucket_limit)
    assert limits[0] <= HIST_VALUES.min() and limits[-1] >= HIST_VALUES.max()
    # the counts are those of numpy over TensorFlow's default edges
    counts, _ = np.histogram(HIST_VALUES, bins=limits)
    np.testing.assert_array_equal(hist.bucket[1:], counts)
    coarse = acc.Histograms("weights_coarse")[0].histogram_value
    assert sum(coarse.bucket) == 500 and len(coarse.bucket) < len(hist.bucket)


def test_images_read_back(torsh_dir):
    from io import BytesIO

    from PIL import Image
    acc = accumulator(torsh_dir)
    sizes = {tag: (acc.Images(tag)[0].height, acc.Images(tag)[0].width) for tag in ("chw", "hwc_u8", "batch")}
    assert sizes == {"chw": (6, 10), "hwc_u8": (5, 7), "batch": (8, 40)}  # 10 images: 8 per row, 2 rows
    png = np.asarray(Image.open(BytesIO(acc.Images("hwc_u8")[0].encoded_image_string)))
    np.testing.assert_array_equal(png, IMAGE_HWC_U8)
    png = np.asarray(Image.open(BytesIO(acc.Images("chw")[0].encoded_image_string)))
    np.testing.assert_array_equal(png, (IMAGE_CHW.transpose(1, 2, 0) * 255).astype(np.uint8))
    gray = np.asarray(Image.open(BytesIO(acc.Images("gray_hw")[0].encoded_image_string)))
    assert gray.shape == (6, 10, 3) and (gray[..., 0] == gray[..., 2]).all()


def test_text_read_back(torsh_dir):
    acc = accumulator(torsh_dir)
    (event,) = acc.Tensors("note/text_summary")
    assert event.step == 5
    assert event.tensor_proto.string_val == [b"hello *tensorboard*"]
    assert acc.SummaryMetadata("note/text_summary").plugin_data.plugin_name == "text"


def test_hparams_read_back(torsh_dir):
    acc = accumulator(os.path.join(torsh_dir, "hp"))
    contents = acc.PluginTagToContent(hp_metadata.PLUGIN_NAME)
    start = HParamsPluginData.FromString(contents[hp_metadata.SESSION_START_INFO_TAG]).session_start_info
    assert start.hparams["lr"].number_value == 0.1
    assert start.hparams["opt"].string_value == "sgd"
    assert start.hparams["nesterov"].number_value == 1.0  # PyTorch logs a bool as a number
    assert "none" not in start.hparams
    experiment = HParamsPluginData.FromString(contents[hp_metadata.EXPERIMENT_TAG]).experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/acc"]
    assert [(e.step, e.value) for e in acc.Scalars("hparam/acc")] == [(9, 0.75)]


def test_purge_step_suffix_comment_and_default_dir(tmp_path, monkeypatch):
    with SummaryWriter(str(tmp_path), purge_step=5, filename_suffix=".mine") as w:
        w.add_scalar("x", 1.0, 6)
    (path,) = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    assert path.endswith(".mine")
    events = list(EventFileLoader(path).Load())
    assert [e.step for e in events if e.HasField("session_log")] == [5]
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_trial")
    w.close()
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith("_trial") and w.log_dir == os.path.join("runs", run)


def test_flush_close_reopen_and_errors(tmp_path):
    w = SummaryWriter(str(tmp_path))
    w.add_scalar("x", 1.0, 0)
    w.flush()
    assert [e.value for e in accumulator(str(tmp_path)).Scalars("x")] == [1.0]
    w.close()
    w.close()  # a second close does nothing
    w.add_scalar("x", 2.0, 1)  # writing after close opens a new file
    w.close()
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 2
    with pytest.raises(NotImplementedError, match=r"graph capture \(torsh.fx/jit\) is not available yet"):
        SummaryWriter(str(tmp_path)).add_graph(torsh.nn.Linear(2, 2))
    with pytest.raises(AssertionError, match="one element"):
        SummaryWriter(str(tmp_path)).add_scalar("bad", torsh.ones(3))
    with pytest.raises(TypeError, match="should be dictionary"):
        SummaryWriter(str(tmp_path)).add_hparams([], {})


def test_add_figure(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = plt.figure(figsize=(2, 1), dpi=50)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_figure("fig", fig, 0)
    image = accumulator(str(tmp_path)).Images("fig")[0]
    assert (image.height, image.width) == (50, 100)
