"""torch.hub for torsh: entrypoints from a ``hubconf.py`` and checkpoints from URLs into the hub cache.

This machine has no network access: ``http(s)://`` URLs and GitHub repositories that are not already
in the hub cache are refused with a RuntimeError before any connection is tried. Local
repositories (``source='local'``), ``file://`` URLs and cached GitHub checkouts work as in PyTorch.
Loading a ``hubconf.py`` runs its code, as PyTorch does: only load repositories you trust.
"""
import contextlib
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import uuid
import warnings
from urllib.parse import urlparse
from urllib.request import url2pathname

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url", "set_dir"]

HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")  # 'resnet18-5c106cde.pth' -> '5c106cde'
ENV_TORCH_HOME = "TORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
VAR_DEPENDENCY = "dependencies"
MODULE_HUBCONF = "hubconf.py"
READ_DATA_CHUNK = 128 * 1024
_TRUSTED_REPO_OWNERS = ("facebookresearch", "facebookincubator", "pytorch", "fairinternal")

_hub_dir = None


# ----------------------------------------------------------------------------- cache directory

def _get_torch_home():
    default = os.path.join(os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "torch")
    return os.path.expanduser(os.getenv(ENV_TORCH_HOME, default))


def get_dir():
    """The hub cache directory: the one given to ``set_dir``, else ``$TORCH_HOME/hub``
    (``$TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch``, that to ``~/.cache/torch``)."""
    if os.getenv("TORCH_HUB"):
        warnings.warn("TORCH_HUB is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_get_torch_home(), "hub")


def set_dir(d):
    """Use ``d`` as the hub cache directory from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(d)


# ----------------------------------------------------------------------------- no network here

def _refuse_network(what):
    raise RuntimeError(f"torsh.hub: {what} needs network access, which torsh.hub does not have here; "
                       "use a local repository (source='local'), a file:// URL or a file already in the hub "
                       f"cache ({get_dir()}).")


def _local_path_of_url(url):
    """The file a ``file://`` URL names; any other scheme is refused before a connection is tried."""
    parts = urlparse(url)
    if parts.scheme != "file":
        _refuse_network(f"downloading {url!r}")
    return url2pathname(parts.path)


# ----------------------------------------------------------------------------- hubconf

@contextlib.contextmanager
def _add_to_sys_path(path):
    sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.path.remove(path)


def _import_hubconf(repo_dir):
    """Execute ``repo_dir/hubconf.py`` (with ``repo_dir`` importable meanwhile) and return it as a module."""
    path = os.path.join(repo_dir, MODULE_HUBCONF)
    with _add_to_sys_path(repo_dir):
        spec = importlib.util.spec_from_file_location(MODULE_HUBCONF, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def _check_dependencies(module):
    required = getattr(module, VAR_DEPENDENCY, None)
    if required is not None:
        missing = [pkg for pkg in required if importlib.util.find_spec(pkg) is None]
        if missing:
            raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")


def _load_entry_from_hubconf(module, model):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    _check_dependencies(module)
    entry = getattr(module, model, None) if model in dir(module) else None
    if entry is None or not callable(entry):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return entry


# ----------------------------------------------------------------------------- GitHub repositories (cache only)

def _parse_repo_info(github):
    """(owner, name, ref) of 'owner/name[:ref]'; without a ref, the cached 'main' or 'master' checkout."""
    repo_info, _, ref = github.partition(":")
    owner, name = repo_info.split("/")
    if not ref:
        # PyTorch asks GitHub whether 'main' exists; offline it falls back on the cache, as here
        ref = next((r for r in ("main", "master") if os.path.exists(os.path.join(get_dir(), f"{owner}_{name}_{r}"))),
                   None)
        if ref is None:
            raise RuntimeError("It looks like there is no internet connection and the repo could not be found "
                               f"in the cache ({get_dir()})")
    return owner, name, ref


def _check_repo_is_trusted(owner, name, owner_name_branch, trust_repo):
    """PyTorch's trust rule: a repo in ``trusted_list``, already cached, or from a trusted owner is trusted;
    otherwise (or with trust_repo=False) the user is asked."""
    hub_dir = get_dir()
    trusted_file = os.path.join(hub_dir, "trusted_list")
    open(trusted_file, "a").close()
    with open(trusted_file) as f:
        trusted = tuple(line.strip() for line in f)
    owner_name = f"{owner}_{name}"
    is_trusted = (owner_name in trusted or os.path.isdir(os.path.join(hub_dir, owner_name_branch))
                  or owner in _TRUSTED_REPO_OWNERS)
    if trust_repo is False or (trust_repo == "check" and not is_trusted):
        answer = input(f"The repository {owner_name} does not belong to the list of trusted repositories and as "
                       "such cannot be downloaded. Do you trust this repository and wish to add it to the trusted "
                       "list of repositories (y/N)?").lower()
        if answer in ("n", "no", ""):
            raise Exception("Untrusted repository.")  # noqa: TRY002 - PyTorch's exception type
        if answer not in ("y", "yes"):
            raise ValueError(f"Unrecognized response {answer}.")
    if not is_trusted:
        with open(trusted_file, "a") as f:
            f.write(owner_name + "\n")


def _get_cache_or_reload(github, force_reload, trust_repo, verbose=True, skip_validation=False):
    hub_dir = get_dir()
    os.makedirs(hub_dir, exist_ok=True)
    owner, name, ref = _parse_repo_info(github)
    owner_name_branch = "_".join([owner, name, ref.replace("/", "_")])
    repo_dir = os.path.join(hub_dir, owner_name_branch)
    _check_repo_is_trusted(owner, name, owner_name_branch, trust_repo)
    if force_reload or not os.path.exists(repo_dir):
        _refuse_network(f"downloading the GitHub repository {github!r}")
    if verbose:
        sys.stderr.write(f"Using cache found in {repo_dir}\n")
    return repo_dir


def _repo_dir(repo_or_dir, source, force_reload, trust_repo, verbose, skip_validation):
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "local":
        return repo_or_dir
    return _get_cache_or_reload(repo_or_dir, force_reload, trust_repo, verbose, skip_validation)


# ----------------------------------------------------------------------------- public entrypoint API

def list(github, force_reload=False, skip_validation=False, trust_repo="check", verbose=True):  # noqa: A001
    """The public callables of the repo's ``hubconf.py`` (names starting with '_' are helpers)."""
    module = _import_hubconf(_get_cache_or_reload(github, force_reload, trust_repo, verbose, skip_validation))
    return [n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")]


def help(github, model, force_reload=False, skip_validation=False, trust_repo="check"):  # noqa: A001
    """The docstring of entrypoint ``model``."""
    module = _import_hubconf(_get_cache_or_reload(github, force_reload, trust_repo, True, skip_validation))
    return _load_entry_from_hubconf(module, model).__doc__


def load(repo_or_dir, model, *args, source="github", trust_repo="check", force_reload=False, verbose=True,
         skip_validation=False, **kwargs):
    """Call entrypoint ``model`` of ``repo_or_dir``'s ``hubconf.py`` with ``*args, **kwargs``.

    ``source='local'``: ``repo_or_dir`` is a directory; ``source='github'``: 'owner/name[:ref]', which must
    already be in the hub cache here (no network access).
    """
    repo_dir = _repo_dir(repo_or_dir, source, force_reload, trust_repo, verbose, skip_validation)
    return _load_local(repo_dir, model, *args, **kwargs)


def _load_local(hubconf_dir, model, *args, **kwargs):
    with _add_to_sys_path(hubconf_dir):  # the entrypoint may import the repo's own modules
        module = _import_hubconf(hubconf_dir)
        entry = _load_entry_from_hubconf(module, model)
        return entry(*args, **kwargs)


# ----------------------------------------------------------------------------- files and checkpoints

def _progress_bar(total, enabled):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: no bar without it
        return contextlib.nullcontext(type("NoBar", (), {"update": lambda self, n: None})())
    return tqdm(total=total, disable=not enabled, unit="B", unit_scale=True, unit_divisor=1024)


def _copy_with_hash(source, target, total, progress):
    sha256 = hashlib.sha256()
    with _progress_bar(total, progress) as bar:
        while chunk := source.read(READ_DATA_CHUNK):
            target.write(chunk)
            sha256.update(chunk)
            bar.update(len(chunk))
    return sha256.hexdigest()


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Copy ``url`` to ``dst`` through a temporary file renamed at the end (a failure leaves ``dst`` alone);
    with ``hash_prefix``, the SHA-256 of the data must start with it. Only ``file://`` URLs work here."""
    source_path = _local_path_of_url(url)
    dst = os.path.expanduser(dst)
    for _ in range(tempfile.TMP_MAX):
        partial = dst + "." + uuid.uuid4().hex + ".partial"
        try:
            target = open(partial, "xb")  # noqa: SIM115 - closed in finally
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(17, "No usable temporary file name found")
    try:
        with open(source_path, "rb") as source:
            digest = _copy_with_hash(source, target, os.path.getsize(source_path), progress)
        target.close()
        if hash_prefix is not None and digest[:len(hash_prefix)] != hash_prefix:
            raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
        shutil.move(partial, dst)
    finally:
        target.close()
        if os.path.exists(partial):
            os.remove(partial)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True, check_hash=False,
                             file_name=None, weights_only=False):
    """``torsh.load`` of the file at ``url``, fetched once into ``model_dir`` (default ``<hub dir>/checkpoints``).

    A file already in the cache is loaded without looking at ``url``; with ``check_hash`` the download's
    SHA-256 must start with the hex digits after the last '-' of the file name ('name-<sha256 prefix>.pth').
    """
    from .serialization import load as _torsh_load
    if os.getenv("TORCH_MODEL_ZOO"):
        warnings.warn("TORCH_MODEL_ZOO is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        match = HASH_REGEX.search(filename) if check_hash else None
        download_url_to_file(url, cached_file, match.group(1) if match else None, progress=progress)
    return _torsh_load(cached_file, map_location=map_location, weights_only=weights_only)

