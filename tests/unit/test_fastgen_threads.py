"""Generation on two threads: past and skip parts handed over through counters (or taken back by the
present thread) give exactly the one-thread result, and a stopped thread never hangs the other."""

import threading
import time

import numpy as np
import pytest

from nsynth_widgets.errors import ParameterError
from nsynth_widgets.model import _sync, fastgen

from ..conftest import TINY, TINY_PITCH, random_arrays


def _encoding(config, batch, frames, seed):
    rng = np.random.default_rng(seed)
    enc = rng.normal(size=(batch, frames, 16)).astype(np.float32)
    if config.pitch_conditioned:
        enc[..., 14] = rng.uniform(-2.0, 1.0, (batch, frames))
        enc[..., 15] = rng.uniform(0.0, 1.0, (batch, frames))
    return enc


@pytest.mark.parametrize("config", [TINY, TINY_PITCH], ids=["plain", "pitch"])
@pytest.mark.parametrize("precision", fastgen.PRECISIONS)
@pytest.mark.parametrize("batch", [1, 6])
def test_two_threads_give_exactly_the_one_thread_audio(config, precision, batch):
    weights = fastgen.DecoderWeights.from_arrays(random_arrays(config, seed=2), config)
    weights = {"float32": weights, "int8": weights.quantize_int8(), "w8a8": weights.quantize_w8a8()}[precision]
    enc = _encoding(config, batch, 6, seed=3)
    one = fastgen.generate(weights, enc, seed=5, chunk_size=40, threads=1)
    two = fastgen.generate(weights, enc, seed=5, chunk_size=100, threads=2)
    np.testing.assert_array_equal(two, one)
    # and the logits of every step are bitwise equal, over chunks that alternate the thread count
    forced = one
    a = fastgen.IncrementalDecoder(weights, enc, threads=1)
    b = fastgen.IncrementalDecoder(weights, enc, threads=2)
    logits_a = np.concatenate([a.step(n, forced=forced, record_logits=True) for n in (50, 3, 331)], axis=1)
    logits_b = np.concatenate([b.step(n, forced=forced, record_logits=True) for n in (50, 3, 331)], axis=1)
    np.testing.assert_array_equal(logits_b, logits_a)


def test_a_stopped_present_thread_releases_the_helper():
    """If the present thread ends early (an error), raising STOP ends the helper's wait."""
    weights = fastgen.DecoderWeights.from_arrays(random_arrays(TINY), TINY)
    decoder = fastgen.IncrementalDecoder(weights, _encoding(TINY, 1, 4, seed=9), threads=2)
    excitation = np.zeros((200, 1, 0), np.float32)
    helper = threading.Thread(target=fastgen._run_helper, args=(0, 200, decoder._weights, decoder._state, excitation))
    helper.start()
    helper.join(0.5)
    assert helper.is_alive()  # waiting for inputs that the present thread never writes
    decoder._state.counters[_sync.STOP] = 1
    helper.join(10.0)
    assert not helper.is_alive()


def test_counters_hand_data_over_in_order():
    """A writer fills a slot, then raises the counter; the reader waits for it and must see the data."""
    n = 20000
    counters = np.zeros(24, np.int64)
    data = np.zeros(n, np.int64)
    seen = np.zeros(n, np.int64)
    writer = threading.Thread(target=_hand_over, args=(counters, data, seen, True))
    reader = threading.Thread(target=_hand_over, args=(counters, data, seen, False))
    reader.start()
    writer.start()
    writer.join(60.0)
    reader.join(60.0)
    assert not writer.is_alive() and not reader.is_alive()
    np.testing.assert_array_equal(seen, np.arange(n) * 3 + 1)


def _hand_over(counters, data, seen, writing):
    _ping_pong(counters, data, seen, writing)


def _compiled_ping_pong():
    import numba

    @numba.njit(nogil=True)
    def ping_pong(counters, data, seen, writing):
        for i in range(data.shape[0]):
            if writing:
                data[i] = i * 3 + 1
                _sync.store_release(counters, 8, i + 1)
                _sync.wait_at_least(counters, 16, i + 1)  # the reader took it
            else:
                _sync.wait_at_least(counters, 8, i + 1)
                seen[i] = data[i]
                _sync.store_release(counters, 16, i + 1)

    return ping_pong


_ping_pong = _compiled_ping_pong()


@pytest.mark.parametrize("threads", [0, 3, 1.5, True])
def test_threads_must_be_one_or_two(threads):
    weights = fastgen.DecoderWeights.from_arrays(random_arrays(TINY), TINY)
    with pytest.raises(ParameterError, match=r"`threads` must be an integer in \[1, 2\]"):
        fastgen.IncrementalDecoder(weights, np.zeros((1, 2, 16), np.float32), threads=threads)


def test_synthesize_passes_threads_through(tiny_model):
    enc = _encoding(TINY, 2, 3, seed=10)
    one = tiny_model.synthesize(enc, seed=1, threads=1)
    np.testing.assert_array_equal(tiny_model.synthesize(enc, seed=1, threads=2), one)
    with pytest.raises(ParameterError, match=r"`threads` must be an integer in \[1, 2\]. Received: threads=4"):
        tiny_model.synthesize(enc, threads=4)


def test_two_thread_generation_leaves_the_interpreter_free():
    """While a widget thread generates (one compiled call, both threads compiled without the GIL), the
    notebook's own thread keeps running Python: here it completes many short sleeps meanwhile."""
    weights = fastgen.DecoderWeights.from_arrays(random_arrays(TINY), TINY)
    enc = _encoding(TINY, 1, 2000, seed=12)  # 128 000 steps in one chunk
    worker = threading.Thread(target=fastgen.generate, args=(weights, enc), kwargs={"chunk_size": 10**6, "threads": 2})
    worker.start()
    naps = 0
    while worker.is_alive():
        time.sleep(0.005)
        naps += 1
    assert naps >= 10
