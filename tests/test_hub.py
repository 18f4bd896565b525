"""torsh.hub: local hubconf repositories, the hub cache directory, file:// downloads and checkpoints."""
import hashlib
import os
import sys

import pytest

import torsh
import torsh.hub as hub
import torsh.utils.model_zoo
from helpers import assert_close, check_same_error, needs_torch, torch_ref

HUBCONF = '''
dependencies = ["numpy"]
from helper_module import scale  # the repo's own module is importable while hubconf loads


def linear(in_features, out_features, bias=True):
    """A Linear layer from the hub."""
    import torsh
    return torsh.nn.Linear(in_features, out_features, bias=bias)


def scaled(x, factor=2):
    return scale(x, factor)


def _private():
    return "helper"

not_callable = 3
'''


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "hubconf.py").write_text(HUBCONF)
    (tmp_path / "helper_module.py").write_text("def scale(x, factor):\n    return x * factor\n")
    yield str(tmp_path)
    sys.modules.pop("helper_module", None)


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """A fresh hub directory (set_dir is global: restored afterwards)."""
    monkeypatch.setattr(hub, "_hub_dir", None)
    path = tmp_path / "hubcache"
    hub.set_dir(str(path))
    return path


def test_load_local_entrypoint_with_args(repo):
    layer = hub.load(repo, "linear", 3, 2, source="local", bias=False)
    assert isinstance(layer, torsh.nn.Linear) and layer.bias is None and tuple(layer.weight.shape) == (2, 3)
    assert hub.load(repo, "scaled", 5, source="local", factor=3) == 15
    assert repo not in sys.path  # the repo is on sys.path only while loading


def test_load_local_errors(repo, tmp_path):
    with pytest.raises(RuntimeError, match="Cannot find callable missing in hubconf"):
        hub.load(repo, "missing", source="local")
    with pytest.raises(RuntimeError, match="Cannot find callable not_callable in hubconf"):
        hub.load(repo, "not_callable", source="local")
    with pytest.raises(ValueError, match="model should be a string of function name"):
        hub.load(repo, 3, source="local")
    with pytest.raises(ValueError, match='Unknown source: "svn". Allowed values: "github" | "local".'):
        hub.load(repo, "linear", source="svn")
    other = tmp_path / "needs_deps"
    other.mkdir()
    (other / "hubconf.py").write_text("dependencies = ['numpy', 'surely_not_a_module_x1', 'nor_this_y2']\n"
                                      "def f():\n    return 1\n")
    with pytest.raises(RuntimeError, match="Missing dependencies: surely_not_a_module_x1, nor_this_y2"):
        hub.load(str(other), "f", source="local")


@needs_torch
def test_local_errors_match_pytorch(repo):
    check_same_error(lambda lib: lib.hub.load(repo, "missing", source="local"))
    check_same_error(lambda lib: lib.hub.load(repo, "linear", source="svn"))


@needs_torch
def test_list_help_and_cached_github_repo_like_pytorch(repo, hub_dir, monkeypatch):
    import shutil
    shutil.copytree(repo, hub_dir / "someone_models_main")
    monkeypatch.setattr(torch_ref.hub, "_hub_dir", str(hub_dir))
    for lib in (torsh, torch_ref):  # a cached checkout is used without network (no validation requested)
        entrypoints = lib.hub.list("someone/models:main", skip_validation=True, trust_repo=True)
        assert entrypoints == ["linear", "scale", "scaled"]  # 'scale' is imported into hubconf: listed too
        assert lib.hub.help("someone/models:main", "linear", trust_repo=True) == "A Linear layer from the hub."
    layer = hub.load("someone/models:main", "linear", 2, 2, trust_repo=True, verbose=False)
    assert isinstance(layer, torsh.nn.Linear)
    assert (hub_dir / "trusted_list").read_text() == ""  # a cached checkout counts as trusted


def test_network_sources_refused_without_connecting(hub_dir, monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("a network call was attempted")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(RuntimeError, match="network access"):
        hub.load("someone/models:main", "linear", trust_repo=True)
    assert (hub_dir / "trusted_list").read_text() == "someone_models\n"  # trust_repo=True records the repo
    with pytest.raises(RuntimeError, match="no internet connection"):
        hub.list("someone/models", trust_repo=True)
    with pytest.raises(RuntimeError, match="network access"):
        hub.download_url_to_file("https://example.com/w.pth", str(hub_dir / "w.pth"))
    with pytest.raises(RuntimeError, match="network access"):
        hub.load_state_dict_from_url("http://example.com/w.pth")
    assert not (hub_dir / "w.pth").exists()


@needs_torch
def test_get_dir_follows_torch_home(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setattr(torch_ref.hub, "_hub_dir", None)
    for env in ({"TORCH_HOME": str(tmp_path / "th")}, {"XDG_CACHE_HOME": str(tmp_path / "xdg")}, {}):
        for name in ("TORCH_HOME", "XDG_CACHE_HOME"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert hub.get_dir() == torch_ref.hub.get_dir()
    hub.set_dir("~/elsewhere")
    assert hub.get_dir() == os.path.expanduser("~/elsewhere")


def _checkpoint(tmp_path, lib, name_template):
    state = {"w": lib.arange(6.0).reshape(2, 3), "b": lib.tensor([1, 2])}
    plain = tmp_path / "plain.pth"
    lib.save(state, str(plain))
    digest = hashlib.sha256(plain.read_bytes()).hexdigest()
    target = tmp_path / name_template.format(digest[:10])
    plain.rename(target)
    return target, digest


def test_download_url_to_file_checks_hash(tmp_path):
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(300_000))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    hub.download_url_to_file(src.as_uri(), str(tmp_path / "copy.bin"), hash_prefix=digest[:8], progress=False)
    assert (tmp_path / "copy.bin").read_bytes() == src.read_bytes()
    with pytest.raises(RuntimeError, match=f'invalid hash value \\(expected "0000", got "{digest}"\\)'):
        hub.download_url_to_file(src.as_uri(), str(tmp_path / "bad.bin"), hash_prefix="0000", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["copy.bin", "data.bin"]  # no .partial file left behind


@needs_torch
def test_load_state_dict_from_url_file_scheme(tmp_path, hub_dir):
    source, _ = _checkpoint(tmp_path, torch_ref, "model-{}.pth")  # a checkpoint written by PyTorch
    state = hub.load_state_dict_from_url(source.as_uri(), check_hash=True, progress=False, weights_only=True)
    assert_close(state["w"], torch_ref.arange(6.0).reshape(2, 3))
    assert_close(state["b"], torch_ref.tensor([1, 2]))
    assert (hub_dir / "checkpoints" / source.name).exists()
    # the cached copy is used even when the URL is gone
    source.unlink()
    again = torsh.utils.model_zoo.load_url(source.as_uri(), map_location="cpu")
    assert_close(again["w"], torch_ref.arange(6.0).reshape(2, 3))


def test_load_state_dict_from_url_hash_mismatch_and_file_name(tmp_path, hub_dir):
    source, digest = _checkpoint(tmp_path, torsh, "model-{}.pth")
    wrong = tmp_path / ("model-" + ("0" if digest[0] != "0" else "1") + digest[1:10] + ".pth")
    source.rename(wrong)
    with pytest.raises(RuntimeError, match="invalid hash value"):
        hub.load_state_dict_from_url(wrong.as_uri(), check_hash=True, progress=False)
    model_dir = tmp_path / "models"
    state = hub.load_state_dict_from_url(wrong.as_uri(), model_dir=str(model_dir), file_name="renamed.pt",
                                         check_hash=True, progress=False)  # no hash in 'renamed.pt': not checked
    assert os.listdir(model_dir) == ["renamed.pt"]
    assert state["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
