"""Fetch and cache the published NSynth WaveNet checkpoint.

The released checkpoint is a plain tar holding one folder::

    wavenet-ckpt/model.ckpt-200000.index
    wavenet-ckpt/model.ckpt-200000.data-00000-of-00001
    wavenet-ckpt/model.ckpt-200000.meta        (optional, unused)
    wavenet-ckpt/checkpoint                    (optional, unused)

:func:`download_checkpoint` streams it into a cache folder, checks it, and extracts it so that a
folder which looks complete always is complete: extraction happens in a temporary folder that is
renamed into place only at the end, and on any failure every byte written so far is deleted.

Which tar members are safe is decided by the standard library's ``tarfile.data_filter`` (PEP 706:
no member or link outside the extraction folder, no absolute link, no device or FIFO); on top of
it only what this layout needs: members outside ``wavenet-ckpt/`` are ignored, links must point
inside that folder (they are extracted as copies of their targets), and the two files the
checkpoint cannot be restored without must be there.

Why not ``pooch`` (which librosa already installs, and which librosa keeps its data with)? It
was weighed for this and does less for this one file: its ``Untar`` extracts in place, so an
interrupted extraction leaves a partial folder that the next call takes as complete; it keeps
the 1 GB tar beside the extracted folder (2 GB of cache); it applies the ``data`` filter only on
Python 3.12+; it cannot read ``file://`` addresses (the offline route that tests and air-gapped
machines use); and its errors are requests' exceptions rather than one line naming the URL,
the bytes received and what was cleaned up. Neither resumes a broken transfer; pooch retries
(``retry_if_failed``), which this module does not.

This module only uses the standard library; it never imports TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import http.client
import os
import pathlib
import platform
import posixpath
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from .errors import DownloadError, ParameterError, check_number, describe

if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable

    from ._types import PathLike

__all__ = [
    "CHECKPOINT_URL",
    "CHECKPOINT_SHA256",
    "REQUIRED_MEMBERS",
    "default_cache_dir",
    "download_checkpoint",
    "find_checkpoint",
]

CHECKPOINT_URL = "http://download.magenta.tensorflow.org/models/nsynth/wavenet-ckpt.tar"

#: SHA-256 of the tar at :data:`CHECKPOINT_URL`. ``None`` means "not pinned yet": a maintainer
#: sets it once the hash has been verified against a trusted copy. Until then nothing is
#: checked by default; a user who knows the hash passes ``download_checkpoint(sha256=...)``.
CHECKPOINT_SHA256 = None

_FOLDER = "wavenet-ckpt"
_PREFIX_NAME = "model.ckpt-200000"

#: Tar members without which the checkpoint cannot be restored.
REQUIRED_MEMBERS = (
    f"{_FOLDER}/{_PREFIX_NAME}.index",
    f"{_FOLDER}/{_PREFIX_NAME}.data-00000-of-00001",
)

_CHUNK_BYTES = 1 << 20
_SCHEMES = ("http", "https", "file")
_SHA256_PATTERN = re.compile(r"[0-9a-fA-F]{64}")


def default_cache_dir():
    """Folder where downloaded checkpoints are kept.

    Returns
    -------
    cache_dir : pathlib.Path
        ``$NSYNTH_WIDGETS_CACHE`` if set, else ``$XDG_CACHE_HOME/nsynth_widgets``, else
        ``~/.cache/nsynth_widgets``. Empty variables count as unset. The folder is not created.
    """
    explicit = os.environ.get("NSYNTH_WIDGETS_CACHE")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg).expanduser() if xdg else pathlib.Path.home() / ".cache"
    return base / "nsynth_widgets"


def find_checkpoint(cache_dir=None):
    """Prefix of the cached, completely extracted checkpoint, if there is one.

    Parameters
    ----------
    cache_dir : str or os.PathLike or None
        Cache folder; ``None`` means :func:`default_cache_dir`.

    Returns
    -------
    prefix : pathlib.Path or None
        ``<cache_dir>/wavenet-ckpt/model.ckpt-200000`` (no suffix), or ``None``.
    """
    folder = _cache_path(cache_dir) / _FOLDER
    return folder / _PREFIX_NAME if _is_complete(folder) else None


def download_checkpoint(
    url: str | None = None,
    cache_dir: PathLike | None = None,
    sha256: str | None = CHECKPOINT_SHA256,
    progress: Callable[[int, int | None], object] | None = None,
    force: bool = False,
    timeout: float = 60,
) -> pathlib.Path:
    """Download and extract the NSynth checkpoint tar, or reuse the cached copy.

    Parameters
    ----------
    url : str or None
        ``http://``, ``https://`` or ``file://`` address of the tar (``file://`` works offline);
        None: :data:`CHECKPOINT_URL`.
    cache_dir : str or os.PathLike or None
        Where the checkpoint is kept; ``None`` means :func:`default_cache_dir`.
    sha256 : str or None
        Expected SHA-256 of the tar (64 hex digits); ``None`` skips the check.
    progress : callable or None
        Called as ``progress(done_bytes, total_bytes)`` after each 1 MiB chunk; ``total_bytes``
        is ``None`` when the server does not announce a length.
    force : bool
        Download again even when a complete checkpoint is cached.
    timeout : float
        Seconds to wait for the server to connect or to send data.

    Returns
    -------
    prefix : pathlib.Path
        ``<cache_dir>/wavenet-ckpt/model.ckpt-200000``: the checkpoint prefix, without suffix.

    Raises
    ------
    DownloadError
        The server refused, the transfer broke off, the hash differs, or the tar is incomplete
        or unsafe. The partial download and any partial extraction are deleted first.
    KeyboardInterrupt
        Re-raised after the same clean-up.
    """
    url = CHECKPOINT_URL if url is None else url
    _check_download_arguments(url, sha256, progress, timeout)
    cache = _cache_path(cache_dir)
    folder = cache / _FOLDER
    if not force and _is_complete(folder):
        return folder / _PREFIX_NAME
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=cache):  # writable? (an existing folder may not be)
            pass
    except OSError as exc:
        raise DownloadError(
            f"`cache_dir` must be a folder that can be created and written. "
            f"Received: cache_dir={str(cache)!r} ({exc.strerror or exc})."
        ) from exc

    part = cache / f"{_FOLDER}.tar.part"
    staging = None
    try:
        digest = _fetch(url, part, progress, timeout, cache)
        if sha256 is not None and digest != sha256.lower():
            raise DownloadError(
                f"`sha256` must match the file downloaded from {url!r}. "
                f"Received: sha256={sha256.lower()!r} (expected), but the file hashes to "
                f"{digest!r}. {_nothing_left(cache)}"
            )
        staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{_FOLDER}-", dir=cache))
        _extract(part, staging / _FOLDER, url, cache)
        _install(staging / _FOLDER, folder, staging)
    finally:
        if part.exists():  # (unlinking a missing file can fail too, e.g. on a read-only file system)
            part.unlink()
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return folder / _PREFIX_NAME


def _check_download_arguments(url, sha256, progress, timeout):
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in _SCHEMES:
        raise ParameterError(f"`url` must be an http://, https:// or file:// URL. Received: url={describe(url)}.")
    if sha256 is not None and not (isinstance(sha256, str) and _SHA256_PATTERN.fullmatch(sha256)):
        raise ParameterError(f"`sha256` must be None or 64 hexadecimal digits. Received: sha256={describe(sha256)}.")
    if progress is not None and not callable(progress):
        raise ParameterError(f"`progress` must be None or callable. Received: progress={describe(progress)}.")
    check_number("timeout", timeout, 0, low_open=True)


def _cache_path(cache_dir):
    if cache_dir is None:
        return default_cache_dir()
    if not isinstance(cache_dir, (str, os.PathLike)):
        raise ParameterError(
            f"`cache_dir` must be None, a str or an os.PathLike. Received: cache_dir={describe(cache_dir)}."
        )
    return pathlib.Path(cache_dir).expanduser()


def _is_complete(folder):
    return all((folder.parent / member).is_file() for member in REQUIRED_MEMBERS)


def _nothing_left(cache):
    return f"The partial download was deleted; nothing was left in {str(cache)!r}."


def _fetch(url, part, progress, timeout, cache):
    """Stream ``url`` into ``part``; return the SHA-256 hex digest of what was written."""
    digest = hashlib.sha256()
    done = 0
    total = None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.strip().isdigit() else None
            while chunk := response.read(_CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise DownloadError(
            f"`url` must serve the checkpoint tar. Received: url={url!r}, which answered "
            f"HTTP {exc.code} {exc.reason}. {_nothing_left(cache)}"
        ) from exc
    except urllib.error.URLError as exc:
        raise DownloadError(
            f"`url` must be reachable. Received: url={url!r} ({exc.reason}). {_nothing_left(cache)}"
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(
            f"`url` must send the whole checkpoint tar. Received: url={url!r}, but the transfer "
            f"stopped after {done} of {total if total is not None else 'unknown'} bytes "
            f"({type(exc).__name__}: {exc}). {_nothing_left(cache)}"
        ) from exc
    if total is not None and done != total:
        raise DownloadError(
            f"`url` must send the whole checkpoint tar. Received: url={url!r}, but the connection "
            f"closed after {done} of {total} bytes. {_nothing_left(cache)}"
        )
    return digest.hexdigest()


def _extract(archive, destination, url, cache):
    """Check every member of ``archive``, then write the checkpoint folder to ``destination``."""
    try:
        with tarfile.open(archive) as tar:
            members = _checked_members(tar.getmembers(), url, cache)
            destination.mkdir()
            for relative, member in members:
                target = destination.joinpath(*relative.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK_BYTES)
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise DownloadError(
            f"`url` must serve a readable tar archive. Received: url={url!r}, whose file could "
            f"not be unpacked ({type(exc).__name__}: {exc}). {_nothing_left(cache)}"
        ) from exc


def _checked_members(members, url, cache):
    """Members inside the checkpoint folder as ``(path relative to it, member)``; reject unsafe ones."""

    def reject(member, why):
        return DownloadError(
            f"`url` must serve a tar whose members stay inside {_FOLDER + '/'!r}. Received: "
            f"url={url!r}, whose member {member.name!r} {why}. Nothing was extracted. "
            f"{_nothing_left(cache)}"
        )

    if not hasattr(tarfile, "data_filter"):
        raise DownloadError(
            "`tarfile` must have extraction filters (PEP 706) to unpack a downloaded tar safely: Python 3.12+, "
            f"3.11.4+ or 3.10.12+. Received: Python {platform.python_version()}. {_nothing_left(cache)}"
        )
    root = str(cache / "extraction-root")  # a stand-in: the filter only compares paths, it writes nothing
    kept = []
    for member in members:
        try:
            tarfile.data_filter(member, root)
        except tarfile.FilterError as error:
            raise reject(member, f"is refused by tarfile's 'data' filter ({error})") from error
        relative = _inside_folder(posixpath.normpath(member.name))
        if relative is None:
            continue  # A top-level extra (e.g. a README) or an absolute name: never extracted.
        if member.issym() or member.islnk():
            base = posixpath.dirname(member.name) if member.issym() else ""
            target = posixpath.normpath(posixpath.join(base, member.linkname))
            if _inside_folder(target) is None:
                raise reject(member, f"is a link to {member.linkname!r}, outside the folder")
        kept.append((relative, member))

    present = {f"{_FOLDER}/{relative.as_posix()}" for relative, member in kept if not member.isdir()}
    missing = [name for name in REQUIRED_MEMBERS if name not in present]
    if missing:
        raise DownloadError(
            f"`url` must serve a tar holding {', '.join(map(repr, REQUIRED_MEMBERS))}. Received: "
            f"url={url!r}, whose tar lacks {', '.join(map(repr, missing))}. {_nothing_left(cache)}"
        )
    return kept


def _inside_folder(name):
    """``name`` relative to the checkpoint folder, or ``None`` when it is not inside it."""
    parts = pathlib.PurePosixPath(name).parts
    if len(parts) < 2 or parts[0] != _FOLDER:
        return None
    return pathlib.PurePosixPath(*parts[1:])


def _install(extracted, folder, staging):
    """Move ``extracted`` to ``folder`` with renames only; what was there goes into ``staging``."""
    if folder.exists() or folder.is_symlink():
        os.replace(folder, staging / "previous")
    os.replace(extracted, folder)
