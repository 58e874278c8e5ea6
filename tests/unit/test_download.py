"""download.py against a real HTTP server on 127.0.0.1 and fake checkpoint tars (no network)."""

import hashlib
import http.server
import io
import random
import tarfile
import threading

import pytest

from nsynth_widgets.download import (
    CHECKPOINT_URL,
    REQUIRED_MEMBERS,
    default_cache_dir,
    download_checkpoint,
    find_checkpoint,
)
from nsynth_widgets.errors import DownloadError, ParameterError
from nsynth_widgets.model.checkpoint import checkpoint_prefix

MIB = 1 << 20
INDEX = "wavenet-ckpt/model.ckpt-200000.index"
DATA = "wavenet-ckpt/model.ckpt-200000.data-00000-of-00001"
META = "wavenet-ckpt/model.ckpt-200000.meta"
STATE = "wavenet-ckpt/checkpoint"


def _tar_bytes(files, extra=()):
    """A tar holding ``files`` ({name: bytes}) plus ready-made ``extra`` TarInfo members (links)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folder = tarfile.TarInfo("wavenet-ckpt")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for info in extra:
            tar.addfile(info)
    return buffer.getvalue()


def _link(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.fixture
def checkpoint_files():
    rng = random.Random(0)
    return {
        INDEX: b"index bytes",
        # Larger than 2 MiB so that the download arrives in several 1 MiB chunks.
        DATA: rng.randbytes(2 * MIB + 12345),
        META: b"meta",
        STATE: b'model_checkpoint_path: "model.ckpt-200000"\n',
    }


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # urllib would send even 127.0.0.1 requests to a proxy named in the environment.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class _Server:
    """Routes: path -> (body, announced Content-Length). Unknown paths answer 404."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path not in server.routes:
                    self.send_error(404, "Not Found")
                    return
                body, announced = server.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-tar")
                self.send_header("Content-Length", str(announced))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, path, body, announced=None):
        self.routes[path] = (body, len(body) if announced is None else announced)
        return self.base + path


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    thread.join()


def _assert_empty(cache):
    """Nothing at all was left behind in the cache folder (no .part, no temp folder)."""
    assert sorted(p.name for p in cache.iterdir()) == []


def test_constants():
    assert CHECKPOINT_URL == "http://download.magenta.tensorflow.org/models/nsynth/wavenet-ckpt.tar"
    assert REQUIRED_MEMBERS == (INDEX, DATA)


def test_download_extracts_and_reports_progress(server, checkpoint_files, tmp_path):
    tar = _tar_bytes(checkpoint_files)
    url = server.serve("/wavenet-ckpt.tar", tar)
    cache = tmp_path / "cache"
    calls = []

    prefix = download_checkpoint(url, cache_dir=cache, progress=lambda done, total: calls.append((done, total)))

    assert prefix == cache / "wavenet-ckpt" / "model.ckpt-200000"
    for name, payload in checkpoint_files.items():
        assert (cache / name).read_bytes() == payload
    # Only the extracted folder remains: the tar and the staging folder are gone.
    assert [p.name for p in cache.iterdir()] == ["wavenet-ckpt"]
    # Chunks of exactly 1 MiB, then the remainder; every call knows the total.
    assert [done for done, _ in calls] == list(range(MIB, len(tar), MIB)) + [len(tar)]
    assert all(total == len(tar) for _, total in calls)
    assert find_checkpoint(cache) == prefix
    assert checkpoint_prefix(prefix) == str(prefix)


def test_second_call_uses_cache_and_force_downloads_again(server, checkpoint_files, tmp_path):
    url = server.serve("/wavenet-ckpt.tar", _tar_bytes(checkpoint_files))
    cache = tmp_path / "cache"
    first = download_checkpoint(url, cache_dir=cache)
    assert len(server.requests) == 1

    assert download_checkpoint(url, cache_dir=cache) == first
    assert len(server.requests) == 1

    updated = {**checkpoint_files, DATA: b"new weights"}
    del updated[META]
    server.serve("/wavenet-ckpt.tar", _tar_bytes(updated))
    assert download_checkpoint(url, cache_dir=cache, force=True) == first
    assert len(server.requests) == 2
    assert (cache / DATA).read_bytes() == b"new weights"
    assert not (cache / META).exists()  # The old folder was replaced, not merged.
    assert [p.name for p in cache.iterdir()] == ["wavenet-ckpt"]


def test_incomplete_cached_folder_is_replaced(server, checkpoint_files, tmp_path):
    cache = tmp_path / "cache"
    (cache / "wavenet-ckpt").mkdir(parents=True)
    (cache / INDEX).write_bytes(b"stale")
    (cache / "wavenet-ckpt" / "leftover").write_bytes(b"x")
    assert find_checkpoint(cache) is None

    download_checkpoint(server.serve("/t.tar", _tar_bytes(checkpoint_files)), cache_dir=cache)

    assert (cache / INDEX).read_bytes() == checkpoint_files[INDEX]
    assert not (cache / "wavenet-ckpt" / "leftover").exists()


def test_correct_sha256_is_accepted(server, checkpoint_files, tmp_path):
    tar = _tar_bytes(checkpoint_files)
    url = server.serve("/t.tar", tar)
    digest = hashlib.sha256(tar).hexdigest()
    prefix = download_checkpoint(url, cache_dir=tmp_path / "a", sha256=digest)
    assert find_checkpoint(tmp_path / "a") == prefix
    # Upper-case hex is the same hash.
    download_checkpoint(url, cache_dir=tmp_path / "b", sha256=digest.upper())
    assert find_checkpoint(tmp_path / "b") is not None


def test_wrong_sha256_deletes_everything(server, checkpoint_files, tmp_path):
    tar = _tar_bytes(checkpoint_files)
    url = server.serve("/t.tar", tar)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        download_checkpoint(url, cache_dir=cache, sha256="0" * 64)
    assert "0" * 64 in str(info.value)
    assert hashlib.sha256(tar).hexdigest() in str(info.value)
    assert "nothing was left" in str(info.value)
    _assert_empty(cache)


def test_interrupted_download_leaves_nothing(server, checkpoint_files, tmp_path):
    tar = _tar_bytes(checkpoint_files)
    half = len(tar) // 2
    url = server.serve("/t.tar", tar[:half], announced=len(tar))
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=f"after {half} of {len(tar)} bytes") as info:
        download_checkpoint(url, cache_dir=cache)
    assert "nothing was left" in str(info.value)
    _assert_empty(cache)
    assert find_checkpoint(cache) is None


def test_keyboard_interrupt_cleans_up_and_propagates(server, checkpoint_files, tmp_path):
    url = server.serve("/t.tar", _tar_bytes(checkpoint_files))
    cache = tmp_path / "cache"

    def interrupt(done, total):
        assert (cache / "wavenet-ckpt.tar.part").is_file()  # The stream really is being written.
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_checkpoint(url, cache_dir=cache, progress=interrupt)
    _assert_empty(cache)


def test_http_404(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_checkpoint(server.base + "/missing.tar", cache_dir=cache)
    assert server.requests == ["/missing.tar"]
    _assert_empty(cache)


def test_connection_refused(tmp_path):
    # A port that was just free: nothing listens on it any more.
    probe = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="must be reachable"):
        download_checkpoint(f"http://127.0.0.1:{port}/t.tar", cache_dir=cache, timeout=5)
    _assert_empty(cache)


@pytest.mark.parametrize("missing", [INDEX, DATA])
def test_tar_missing_required_member(server, checkpoint_files, tmp_path, missing):
    files = {name: payload for name, payload in checkpoint_files.items() if name != missing}
    url = server.serve("/t.tar", _tar_bytes(files))
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="lacks") as info:
        download_checkpoint(url, cache_dir=cache)
    assert repr(missing) in str(info.value)
    _assert_empty(cache)


def test_optional_members_may_be_absent(server, checkpoint_files, tmp_path):
    files = {INDEX: checkpoint_files[INDEX], DATA: checkpoint_files[DATA]}
    prefix = download_checkpoint(server.serve("/t.tar", _tar_bytes(files)), cache_dir=tmp_path)
    assert sorted(p.name for p in prefix.parent.iterdir()) == sorted(n.split("/")[1] for n in files)


def test_not_a_tar(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="readable tar"):
        download_checkpoint(server.serve("/t.tar", b"<html>not a tar</html>"), cache_dir=cache)
    _assert_empty(cache)


@pytest.mark.parametrize(
    "evil",
    [
        {"name": "../evil", "payload": b"pwned"},
        {"name": "wavenet-ckpt/../../evil", "payload": b"pwned"},
        {"link": _link("wavenet-ckpt/sym", "../../evil", tarfile.SYMTYPE)},
        {"link": _link("wavenet-ckpt/sym", "/etc/passwd", tarfile.SYMTYPE)},
        {"link": _link("wavenet-ckpt/hard", "../evil", tarfile.LNKTYPE)},
        {"link": _link("wavenet-ckpt/fifo", "", tarfile.FIFOTYPE)},
    ],
    ids=["dotdot", "nested-dotdot", "symlink-out", "symlink-abs", "hardlink-out", "fifo"],
)
def test_unsafe_members_are_rejected(server, checkpoint_files, tmp_path, evil):
    if "link" in evil:
        tar = _tar_bytes(checkpoint_files, extra=[evil["link"]])
    else:
        tar = _tar_bytes({**checkpoint_files, evil["name"]: evil["payload"]})
    cache = tmp_path / "deep" / "cache"
    with pytest.raises(DownloadError, match="stay inside"):
        download_checkpoint(server.serve("/t.tar", tar), cache_dir=cache)
    _assert_empty(cache)
    # Nothing was written anywhere outside the cache either.
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["cache"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep"]


def test_members_outside_the_folder_are_never_extracted(server, checkpoint_files, tmp_path):
    """An absolute name (which tarfile's data filter would re-root) and a top-level extra are left in the tar."""
    absolute = tmp_path / "absolute-evil"
    tar = _tar_bytes({**checkpoint_files, str(absolute): b"pwned", "README": b"hello", "wavenet-ckpt/../x": b"up"})
    cache = tmp_path / "cache"
    prefix = download_checkpoint(server.serve("/t.tar", tar), cache_dir=cache)
    assert find_checkpoint(cache) == prefix
    assert not absolute.exists()
    assert [p.name for p in cache.iterdir()] == ["wavenet-ckpt"]
    assert sorted(p.name for p in (cache / "wavenet-ckpt").iterdir()) == sorted(
        name.split("/", 1)[1] for name in checkpoint_files
    )


def test_links_inside_the_folder_are_copied(server, checkpoint_files, tmp_path):
    files = {name: payload for name, payload in checkpoint_files.items() if name != INDEX}
    files["wavenet-ckpt/real.index"] = b"linked index"
    link = _link(INDEX, "real.index", tarfile.SYMTYPE)
    prefix = download_checkpoint(server.serve("/t.tar", _tar_bytes(files, extra=[link])), cache_dir=tmp_path)
    index = tmp_path / INDEX
    assert not index.is_symlink()
    assert index.read_bytes() == b"linked index"
    assert find_checkpoint(tmp_path) == prefix


def test_file_url_works_offline(checkpoint_files, tmp_path):
    tar = _tar_bytes(checkpoint_files)
    source = tmp_path / "wavenet-ckpt.tar"
    source.write_bytes(tar)
    cache = tmp_path / "cache"
    calls = []
    prefix = download_checkpoint(source.as_uri(), cache_dir=cache, progress=lambda *a: calls.append(a))
    assert (cache / DATA).read_bytes() == checkpoint_files[DATA]
    assert calls[-1] == (len(tar), len(tar))
    assert source.read_bytes() == tar  # The source is left untouched.
    assert find_checkpoint(cache) == prefix


def test_missing_file_url(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="must be reachable"):
        download_checkpoint((tmp_path / "absent.tar").as_uri(), cache_dir=cache)
    _assert_empty(cache)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"url": "ftp://example.org/x.tar"}, "url"),
        ({"url": 3}, "url"),
        ({"sha256": "abc"}, "sha256"),
        ({"sha256": "g" * 64}, "sha256"),
        ({"progress": "yes"}, "progress"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"cache_dir": 5}, "cache_dir"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, argument):
    kwargs = {"url": "file:///nonexistent.tar", "cache_dir": tmp_path, **kwargs}
    with pytest.raises(ParameterError, match=f"`{argument}` must .* Received: {argument}="):
        download_checkpoint(**kwargs)
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NSYNTH_WIDGETS_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"

    monkeypatch.delenv("NSYNTH_WIDGETS_CACHE")
    assert default_cache_dir() == tmp_path / "xdg" / "nsynth_widgets"

    monkeypatch.setenv("XDG_CACHE_HOME", "")  # Empty means unset (XDG spec).
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "nsynth_widgets"


def test_download_uses_default_cache_dir(monkeypatch, checkpoint_files, tmp_path):
    source = tmp_path / "t.tar"
    source.write_bytes(_tar_bytes(checkpoint_files))
    monkeypatch.setenv("NSYNTH_WIDGETS_CACHE", str(tmp_path / "env-cache"))
    prefix = download_checkpoint(source.as_uri())
    assert prefix == tmp_path / "env-cache" / "wavenet-ckpt" / "model.ckpt-200000"
    assert find_checkpoint() == prefix
