"""``ember.hub``, PyTorch's ``torch.hub``: checkpoints downloaded once into a cache directory
(with an optional SHA-256 prefix check), and models published through a repository's
``hubconf.py``, from a local directory or a GitHub archive.

The cache directory is PyTorch's (``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub``,
else ``~/.cache/torch/hub``; ``$EMBER_HOME`` is read before ``$TORCH_HOME``), so checkpoints
PyTorch has downloaded are reused; ember reads PyTorch's checkpoint format.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import urllib.request
import warnings
import zipfile
from urllib.parse import urlparse

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url", "set_dir"]

_hub_dir = None
_HASH = re.compile(r"-([a-f0-9]*)\.")  # torchvision-style names: resnet18-f37072fd.pth
_HUBCONF = "hubconf.py"
_TRUSTED = "trusted_list"
# owners PyTorch trusts without asking (its own organisations)
_TRUSTED_OWNERS = ("facebookresearch", "facebookincubator", "pytorch", "fairinternal")
_CHUNK = 1 << 16


def get_dir() -> str:
    """The hub's cache directory (``set_dir`` overrides it).

    Returns:
        The path: the one given to ``set_dir``, else ``$EMBER_HOME/hub`` or ``$TORCH_HOME/hub``,
        else ``$XDG_CACHE_HOME/torch/hub`` (``~/.cache`` when unset).
    """
    if _hub_dir is not None:
        return _hub_dir
    home = os.environ.get("EMBER_HOME") or os.environ.get("TORCH_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache")), "torch")
    return os.path.join(os.path.expanduser(home), "hub")


def set_dir(d) -> None:
    """Use ``d`` as the hub's cache directory from now on.

    Args:
        d: a path (str or ``os.PathLike``); ``~`` is expanded.
    """
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
    """Download ``url`` to the file ``dst``, atomically (a partial download never lands there).

    Args:
        url: the address (``http(s)://``, ``file://``, anything ``urllib`` opens).
        dst: the destination file.
        hash_prefix: if given, the SHA-256 hex digest of the content must start with it.
        progress: print the progress to stderr.

    Raises:
        RuntimeError: if the digest does not start with ``hash_prefix`` (``dst`` is not written).
    """
    dst = os.path.expanduser(dst)
    folder = os.path.dirname(os.path.abspath(dst))
    request = urllib.request.Request(url, headers={"User-Agent": "ember.hub"})
    with urllib.request.urlopen(request) as response:
        size = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        size = int(size) if size else None
        digest = hashlib.sha256()
        done = 0
        # written beside dst, so the final rename stays on one file system
        tmp = tempfile.NamedTemporaryFile(delete=False, dir=folder, prefix=".ember-hub-", suffix=".partial")
        try:
            with tmp:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    tmp.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        total = f"/{size}" if size else ""
                        print(f"\rdownloading {os.path.basename(dst)}: {done}{total} bytes", end="", file=sys.stderr)
            if progress:
                print(file=sys.stderr)
            if hash_prefix is not None:
                got = digest.hexdigest()
                if not got.startswith(hash_prefix):
                    raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{got}")')
            shutil.move(tmp.name, dst)
        finally:
            if os.path.exists(tmp.name):
                os.remove(tmp.name)


def _is_legacy_zip(path) -> bool:
    # the old torchvision convention: a zip holding one checkpoint file (ember/PyTorch's own
    # format is also a zip, with many entries)
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
    return len(entries) == 1 and not entries[0].is_dir()


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location=None, progress: bool = True,
                             check_hash: bool = False, file_name: str | None = None,
                             weights_only: bool = False):
    """Load the checkpoint at ``url``, downloading it into the cache the first time.

    Args:
        url: the checkpoint's address.
        model_dir: the cache folder (default: ``<get_dir()>/checkpoints``).
        map_location: as for ``ember.load``.
        progress: print the download's progress to stderr.
        check_hash: check the download's SHA-256 against the hex digits after the last ``-``
            of the file name (``name-<hex>.ext``).
        file_name: the cached file's name (default: the URL's last path component).
        weights_only: as for ``ember.load``.

    Returns:
        The loaded object (usually a state dict).

    Raises:
        RuntimeError: if ``check_hash`` is set and the download's digest does not match.
    """
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urlparse(url).path)
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        found = _HASH.search(filename) if check_hash else None
        download_url_to_file(url, cached, found.group(1) if found else None, progress=progress)
    from ember.serialization import load as _load
    if _is_legacy_zip(cached):
        with zipfile.ZipFile(cached) as archive:
            member = archive.infolist()[0]
            archive.extractall(model_dir)
        return _load(os.path.join(model_dir, member.filename), map_location=map_location, weights_only=weights_only)
    return _load(cached, map_location=map_location, weights_only=weights_only)


def _import_hubconf(repo_dir):
    path = os.path.join(repo_dir, _HUBCONF)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Cannot find {_HUBCONF} in {repo_dir}")
    spec = importlib.util.spec_from_file_location("hubconf", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, repo_dir)  # hubconf imports its repository's own modules
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(repo_dir)
    missing = [dep for dep in getattr(module, "dependencies", ()) if importlib.util.find_spec(dep) is None]
    if missing:
        raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")
    return module


def _entrypoint(hubconf, model):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    func = getattr(hubconf, model, None)
    if func is None or not callable(func):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return func


def _parse_repo(github):
    owner_name, _, ref = github.partition(":")
    owner, _, name = owner_name.partition("/")
    if not owner or not name:
        raise ValueError(f'Invalid GitHub repository "{github}": expected "owner/name[:ref]"')
    return owner, name, ref or None


def _check_trust(github, owner, name, trust_repo, hub_dir):
    listed = os.path.join(hub_dir, _TRUSTED)
    trusted = set()
    if os.path.exists(listed):
        with open(listed) as f:
            trusted = {line.strip() for line in f if line.strip()}
    key = f"{owner}_{name}"
    is_trusted = key in trusted or owner in _TRUSTED_OWNERS
    if trust_repo is None:
        if not is_trusted:
            warnings.warn("You are about to download and run code from an untrusted repository. Pass "
                          "trust_repo=True (or 'check' to be asked) to choose explicitly.", stacklevel=3)
        return
    if trust_repo not in (True, False, "check"):
        raise ValueError(f"Invalid trust_repo {trust_repo!r}: expected True, False, 'check' or None")
    if trust_repo is False or (trust_repo == "check" and not is_trusted):
        answer = input(f"The repository {github} does not belong to the list of trusted repositories. "
                       "Do you trust this repository and wish to add it to the trusted list (y/N)? ").strip().lower()
        if answer in ("n", "no", ""):
            raise Exception("Untrusted repository.")
        if answer not in ("y", "yes"):
            raise ValueError(f"Unrecognized response {answer}.")
    if key not in trusted:
        os.makedirs(hub_dir, exist_ok=True)
        with open(listed, "a") as f:
            f.write(key + "\n")


def _github_dir(github, force_reload, trust_repo, verbose):
    owner, name, ref = _parse_repo(github)
    hub_dir = get_dir()
    _check_trust(github, owner, name, trust_repo, hub_dir)
    ref = ref or "main"
    repo_dir = os.path.join(hub_dir, "_".join((owner, name, ref.replace("/", "_"))))
    if os.path.isdir(repo_dir) and not force_reload:
        if verbose:
            print(f"Using cache found in {repo_dir}", file=sys.stderr)
        return repo_dir
    os.makedirs(hub_dir, exist_ok=True)
    archive_path = os.path.join(hub_dir, f"{owner}_{name}_{ref.replace('/', '_')}.zip")
    download_url_to_file(f"https://github.com/{owner}/{name}/zipball/{ref}", archive_path, progress=verbose)
    with zipfile.ZipFile(archive_path) as archive:
        top = archive.infolist()[0].filename.split("/")[0]  # GitHub's "<owner>-<name>-<sha>/" folder
        archive.extractall(hub_dir)
    os.remove(archive_path)
    shutil.rmtree(repo_dir, ignore_errors=True)
    shutil.move(os.path.join(hub_dir, top), repo_dir)
    return repo_dir


def _repo_dir(repo_or_dir, source, force_reload, trust_repo, verbose):
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "local":
        return os.path.expanduser(repo_or_dir)
    return _github_dir(repo_or_dir, force_reload, trust_repo, verbose)


def list(github, force_reload=False, skip_validation=False, trust_repo="check", verbose=True):
    """The entry points (public callables) a repository's ``hubconf.py`` publishes.

    Args:
        github: ``"owner/name[:ref]"``; ``ref`` defaults to ``main``.
        force_reload: download the repository again even if it is cached.
        skip_validation: accepted for PyTorch's signature (it skips a GitHub API check of
            ``ref``, which ember does not make).
        trust_repo: ``True``, ``False``/``"check"`` (ask unless the repository is in the
            trusted list) or ``None`` (warn).
        verbose: report the use of the cache.

    Returns:
        A list of names.
    """
    hubconf = _import_hubconf(_github_dir(github, force_reload, trust_repo, verbose))
    return [n for n in dir(hubconf) if callable(getattr(hubconf, n)) and not n.startswith("_")]


def help(github, model, force_reload=False, skip_validation=False, trust_repo="check"):
    """The docstring of one entry point of a repository's ``hubconf.py``.

    Args:
        github: ``"owner/name[:ref]"``.
        model: the entry point's name.
        force_reload, skip_validation, trust_repo: as for ``list``.

    Returns:
        The docstring (``None`` if it has none).
    """
    hubconf = _import_hubconf(_github_dir(github, force_reload, trust_repo, True))
    return _entrypoint(hubconf, model).__doc__


def load(repo_or_dir, model, *args, source="github", trust_repo="check", force_reload=False, verbose=True,
         skip_validation=False, **kwargs):
    """Build a model from an entry point of a repository's ``hubconf.py``.

    Args:
        repo_or_dir: ``"owner/name[:ref]"`` for ``source="github"``, a directory holding
            ``hubconf.py`` for ``source="local"``.
        model: the entry point's name.
        *args, **kwargs: passed to the entry point.
        source: ``"github"`` or ``"local"``.
        trust_repo, force_reload, verbose, skip_validation: as for ``list`` (GitHub only).

    Returns:
        What the entry point returns (usually an ``nn.Module``).

    Raises:
        ValueError: for an unknown ``source``.
        RuntimeError: if ``hubconf.py`` has no callable ``model`` or lacks a listed dependency.
    """
    repo_dir = _repo_dir(repo_or_dir, source, force_reload, trust_repo, verbose)
    return _entrypoint(_import_hubconf(repo_dir), model)(*args, **kwargs)
