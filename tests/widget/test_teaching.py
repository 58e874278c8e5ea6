"""Teaching widgets: the numbers they show against hand calculations, driven headless."""

import io
import math
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
import soundfile as sf
from matplotlib.figure import Figure

from nsynth_widgets.errors import AudioError, EncodingError, ParameterError
from nsynth_widgets.model import fastgen
from nsynth_widgets.model.config import H512_BO16
from nsynth_widgets.widgets.teaching import (
    MuLawExplorer,
    ReceptiveFieldExplorer,
    Stepper,
    compand,
    demo_sound,
    dilation_pattern,
    entropy_bits,
    mulaw_classes,
    plot_stack,
    quantization_snr,
    quantize_audio,
    receptive_field,
    receptive_taps,
    temperature_softmax,
)

from ..conftest import TINY

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def test_import_does_not_load_tensorflow():
    code = (
        "import sys, nsynth_widgets.widgets.teaching; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------------------------
# receptive field: pure functions


def test_published_decoder_receptive_field_by_hand():
    # Shift by one (moves the window, adds no width) + startconv k=3 (2 more samples) + 30 layers
    # of k=3 adding 2 * d each, d = 1, 2, ..., 512 three times (sum per stack 1023), + the sample itself.
    by_hand = 1 + 2 + 2 * 3 * (1 + 2 + 4 + 8 + 16 + 32 + 64 + 128 + 256 + 512)
    assert by_hand == 6141 == H512_BO16.receptive_field
    dilations = dilation_pattern("doubling", 10, 3)
    assert dilations == H512_BO16.dilations
    assert receptive_field(3, dilations, causal=True, start_kernel=3, shifted=True) == 6141
    # the prediction of sample t sees exactly t-6141 .. t-1: all past, none missing
    np.testing.assert_array_equal(receptive_taps(3, dilations, True, 3, True)[0], np.arange(-6141, 0))


def test_published_encoder_receptive_field_by_hand():
    # ae_startconv k=3 (2) + 30 non-causal layers k=3 (2 * d each) + 1; centred: half in the future.
    by_hand = 2 + 2 * sum(2 ** (i % 10) for i in range(30)) + 1
    assert by_hand == H512_BO16.ae_receptive_field == 6141
    dilations = dilation_pattern("doubling", H512_BO16.ae_num_stages, 3)
    assert dilations == H512_BO16.ae_dilations
    assert receptive_field(3, dilations, causal=False, start_kernel=3) == H512_BO16.ae_receptive_field
    np.testing.assert_array_equal(receptive_taps(3, dilations, False, 3)[0], np.arange(-3070, 3071))


def _composed_support(kernel_size, dilations, causal, start_kernel, shifted):
    """Independent check: convolve the 0/1 masks of every (dilated) kernel; the nonzero
    entries of the composition are the inputs an output depends on."""
    masks = [] if start_kernel is None else [np.ones(start_kernel)]
    for d in dilations:
        mask = np.zeros((kernel_size - 1) * d + 1)
        mask[::d] = 1.0
        masks.append(mask)
    total = np.array([1.0])
    for mask in masks:
        total = np.convolve(total, mask)
    if causal:
        first = -(len(total) - 1)
    else:  # "same" padding puts floor(span / 2) taps before the output, layer by layer
        first = -sum((len(m) - 1) // 2 for m in masks)
    first -= int(shifted)
    return first + np.flatnonzero(total > 0.5)


def test_taps_and_field_agree_with_composed_kernels():
    rng = np.random.default_rng(0)
    for _ in range(40):
        k = int(rng.integers(2, 5))
        dilations = [int(d) for d in rng.integers(1, 9, size=rng.integers(1, 6))]
        causal, shifted = bool(rng.integers(2)), bool(rng.integers(2))
        start = None if rng.integers(2) else int(rng.integers(1, 5))
        expected = _composed_support(k, dilations, causal, start, shifted)
        levels = receptive_taps(k, dilations, causal, start, shifted)
        np.testing.assert_array_equal(levels[0], expected)
        assert receptive_field(k, dilations, causal, start, shifted) == expected[-1] - expected[0] + 1
        assert len(levels) == len(dilations) + (start is not None) + 1
        np.testing.assert_array_equal(levels[-1], [0])


def test_window_with_holes():
    # two layers of k=2, d=2: the output reads -2 and 0, each of which reads two steps back
    np.testing.assert_array_equal(receptive_taps(2, [2, 2])[0], [-4, -2, 0])
    assert receptive_field(2, [2, 2]) == 5


def test_receptive_field_matches_the_real_decoder(tiny_arrays):
    """Changing one input sample changes exactly the predictions inside its receptive field."""
    weights = fastgen.DecoderWeights.from_arrays(tiny_arrays, TINY)
    field = receptive_field(TINY.filter_length, TINY.dilations, True, TINY.filter_length, True)
    assert field == TINY.receptive_field == 2 * (1 + 2 * (1 + 2 + 4)) + 1
    rng = np.random.default_rng(3)
    enc = np.zeros((1, 2, 16), np.float32)
    forced = rng.integers(0, 256, (1, 128)).astype(np.int32)
    changed = forced.copy()
    changed[0, 40] = (forced[0, 40] + 128) % 256
    a = fastgen.IncrementalDecoder(weights, enc).step(128, forced=forced, record_logits=True)[0]
    b = fastgen.IncrementalDecoder(weights, enc).step(128, forced=changed, record_logits=True)[0]
    differs = np.flatnonzero(np.abs(a - b).max(axis=1) > 0)
    np.testing.assert_array_equal(differs, np.arange(41, 41 + field))


def test_dilation_patterns():
    assert dilation_pattern("doubling", 4, 2) == (1, 2, 4, 8, 1, 2, 4, 8)
    assert dilation_pattern("constant", 3, 2) == (1,) * 6
    assert dilation_pattern("custom", 99, 2, custom=" 1, 3,9 ") == (1, 3, 9, 1, 3, 9)
    assert dilation_pattern("custom", 1, 1, custom=[2, 5]) == (2, 5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: receptive_field(0, [1]), "`kernel_size` must be an integer >= 1. Received: kernel_size=0."),
        (lambda: receptive_field(2, []), "`dilations` must be a non-empty sequence of positive integers."),
        (
            lambda: receptive_field(2, [1, 0]),
            "`dilations` must be an integer >= 1. Received: dilations=0.",
        ),
        (lambda: receptive_field(2, [1], causal="yes"), "`causal` must be True or False. Received: causal='yes'."),
        (lambda: receptive_field(2, [1], start_kernel=0), "`start_kernel` must be None or an integer >= 1."),
        (lambda: dilation_pattern("triple", 2), "`pattern` must be one of ['constant', 'custom', 'doubling']."),
        (lambda: dilation_pattern("custom", 2, custom="1, two"), "Received: dilations='1, two'."),
        (lambda: dilation_pattern("custom", 2, custom="1, 1024"), "comma-separated whole numbers in [1, 512]"),
        (lambda: dilation_pattern("custom", 2, custom=""), "`dilations` must be 1 to 10"),
    ],
)
def test_receptive_field_errors(call, message):
    with pytest.raises(ParameterError) as info:
        call()
    assert message in str(info.value)


def test_plot_stack_draws_every_tap_once():
    ax = Figure().add_subplot()
    edges = plot_stack(2, [1, 2, 4, 8], ax=ax)
    # the classic WaveNet figure: 1, 2, 4, 8 positions feed the layers above, 2 taps each
    assert len(edges.get_segments()) == 2 * (1 + 2 + 4 + 8)
    tops = {tuple(seg[0]) for seg in edges.get_segments()}
    assert (0.0, 4.0) in tops
    grid, input_row = [c for c in ax.collections if c is not edges][:2]  # then one per layer
    assert len(grid.get_offsets()) == 16 * 5  # a narrow window: every position of every row
    np.testing.assert_array_equal(np.sort(input_row.get_offsets()[:, 0]), np.arange(-15, 1))
    assert edges.axes is ax


# --------------------------------------------------------------------------------------------
# receptive field: the widget


def test_explorer_presets_show_the_published_numbers():
    panel = ReceptiveFieldExplorer()
    assert panel.summary["receptive_field"] == 16 and not panel.summary["summarised"]
    panel.preset.value = "NSynth decoder"
    s = panel.summary
    assert s["receptive_field"] == H512_BO16.receptive_field == 6141
    assert s["milliseconds"] == pytest.approx(6141 / 16.0)
    assert s["undilated_receptive_field"] == 1 + 2 + 2 * 30  # same depth, every dilation 1
    assert s["summarised"] and s["drawn_layers"] == 10
    assert bytes(panel.image.value).startswith(PNG)
    assert "6,141 samples = 383.81 ms" in panel.numbers.value
    panel.preset.value = "NSynth encoder"
    assert panel.summary["receptive_field"] == H512_BO16.ae_receptive_field
    assert panel.causal.value is False and panel.error.value == ""


def test_explorer_controls_recompute_and_switch_to_custom():
    panel = ReceptiveFieldExplorer()
    panel.kernel_size.value = 3
    assert panel.preset.value == "Custom"
    assert panel.summary["receptive_field"] == 1 + 2 * 15
    panel.stacks.value = 2
    panel.pattern.value = "custom"
    panel.custom.value = "2, 2"
    assert panel.summary["dilations"] == (2, 2, 2, 2)
    assert panel.summary["receptive_field"] == 1 + 2 * 8
    assert "holes" in panel.numbers.value
    assert panel.layers.disabled and not panel.custom.disabled


def test_explorer_rejects_bad_values_and_keeps_the_last_good_state():
    panel = ReceptiveFieldExplorer()
    good_summary, good_image = dict(panel.summary), panel.image.value
    panel.pattern.value = "custom"
    panel.custom.value = "1, <script>"
    assert "`dilations` must be 1 to 10" in panel.error.value
    assert "&lt;script&gt;" in panel.error.value and "<script>" not in panel.error.value
    # a tampered front end can raise a slider's max, then send a value beyond the real range
    panel.pattern.value = "doubling"
    assert panel.error.value == ""
    good_summary, good_image = dict(panel.summary), panel.image.value
    panel.layers.max = 1000
    panel.layers.value = 500
    assert "`layers` must be an integer in [1, 10]. Received: layers=500." in panel.error.value
    assert panel.summary == good_summary and panel.image.value == good_image
    panel.layers.value = 3
    assert panel.error.value == "" and panel.summary["dilations"] == (1, 2, 4)


# --------------------------------------------------------------------------------------------
# mu-law: pure functions against an independent implementation


def _my_mulaw(x, mu, bits):
    """Textbook NSynth mu-law, written out again for the test."""
    half = 2 ** (bits - 1)
    x = np.clip(np.asarray(x, np.float64), -1, 1)
    code = np.floor(half * np.sign(x) * np.log(1 + mu * np.abs(x)) / np.log(1 + mu))
    code = np.clip(code, -half, half - 1)
    y = (code + 0.5) / half
    decoded = np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu
    return code, np.where(code == 0, 0.0, decoded)


def _sine(freq=997.0, n=16000):
    return np.sin(2 * np.pi * freq * np.arange(n) / 16000.0).astype(np.float32)


def test_mulaw_snr_of_a_full_scale_sine_by_hand():
    x = _sine()
    _, decoded = _my_mulaw(x, 255, 8)
    decoded = decoded.astype(np.float32).astype(np.float64)  # the package decodes to float32 audio
    signal = np.sum(x.astype(np.float64) ** 2)
    noise = np.sum((x.astype(np.float64) - decoded) ** 2)
    expected = 10 * np.log10(signal / noise)
    assert quantization_snr(x, 255, 8) == pytest.approx(expected, abs=1e-9)
    # textbook estimate for companded quantization: 6.02 B + 4.77 - 20 log10(ln(1 + mu)) ≈ 38.05 dB
    assert abs(expected - (6.02 * 8 + 4.77 - 20 * np.log10(np.log(256)))) < 1.0


@pytest.mark.parametrize("bits", [6, 8, 10, 12, 16])
def test_uniform_quantizer_follows_the_six_db_per_bit_rule(bits):
    assert quantization_snr(_sine(), None, bits) == pytest.approx(6.02 * bits + 1.76, abs=0.5)
    assert quantization_snr(demo_sound("sine"), None, bits) == pytest.approx(6.02 * bits + 1.76, abs=0.5)


def test_quantize_and_classes_by_hand():
    x = np.array([0.3, -0.3, 1.0, -1.0, 0.0], np.float32)
    # uniform, 2 bits: codes floor(2x) clipped to [-2, 1], decoded to the step centres (code + 0.5) / 2
    np.testing.assert_allclose(quantize_audio(x, None, 2), [0.25, -0.25, 0.75, -0.75, 0.25])
    np.testing.assert_array_equal(mulaw_classes(x, None, 2), [2, 1, 3, 0, 2])
    code, decoded = _my_mulaw(x, 255, 8)
    np.testing.assert_array_equal(mulaw_classes(x, 255, 8), code + 128)
    np.testing.assert_allclose(quantize_audio(x, 255, 8), decoded, atol=1e-7)
    ramp = np.linspace(-1, 1, 5001).astype(np.float32)
    for mu, bits in [(255, 8), (15, 4), (1023, 12)]:
        classes = mulaw_classes(ramp, mu, bits)
        assert classes.min() == 0 and classes.max() == 2**bits - 1 and np.all(np.diff(classes) >= 0)
    before = x.copy()
    quantize_audio(x, 255, 8)
    np.testing.assert_array_equal(x, before)


def test_compand_curve():
    assert compand(0.5, 255) == pytest.approx(math.log(1 + 127.5) / math.log(256))
    np.testing.assert_allclose(compand(np.array([-1.0, 0.0, 1.0]), 7), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(compand(np.array([-0.2, 0.7]), None), [-0.2, 0.7])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: quantization_snr(np.zeros(100, np.float32)), AudioError, "`audio` must not be silent"),
        (lambda: quantization_snr(_sine(), 0, 8), ParameterError, "`mu` must be None or an integer >= 1"),
        (
            lambda: quantize_audio(_sine(), 255, 17),
            ParameterError,
            "`bits` must be an integer in [1, 16]. Received: bits=17.",
        ),
        (lambda: quantize_audio(_sine() * 2, 255, 8), AudioError, "`audio` must lie in [-1, 1]"),
        (lambda: demo_sound("noise"), ParameterError, "`kind` must be one of ['chirp', 'sine']"),
    ],
)
def test_mulaw_errors(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_demo_sounds_are_full_scale():
    for kind in ("sine", "chirp"):
        audio = demo_sound(kind, 0.5)
        assert audio.shape == (8000,) and audio.dtype == np.float32
        assert 0.999 < np.abs(audio).max() <= 1.0


# --------------------------------------------------------------------------------------------
# mu-law: the widget


def _wav(data):
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == 16000
    return samples


def test_mulaw_explorer_shows_sounds_plots_and_numbers():
    panel = MuLawExplorer()
    s = panel.state
    assert (s["sound"], s["mu"], s["bits"]) == ("sine", 255, 8)
    assert s["snr_db"] == pytest.approx(quantization_snr(demo_sound("sine"), 255, 8))
    for player in (panel.original_player, panel.quantized_player):
        assert player.autoplay is False and player.loop is False
    np.testing.assert_allclose(_wav(panel.quantized_player.value), s["quantized"], atol=1 / 32767)
    np.testing.assert_allclose(_wav(panel.original_player.value), demo_sound("sine"), atol=1 / 32767)
    assert bytes(panel.image.value).startswith(PNG)
    assert f"SNR {s['snr_db']:.1f} dB" in panel.numbers.value
    panel.bits.value = 4
    assert panel.state["classes_used"] <= 16 and panel.state["snr_db"] < s["snr_db"]
    panel.uniform.value = True
    assert panel.state["mu"] is None and panel.mu.disabled
    assert panel.state["snr_db"] == panel.state["uniform_snr_db"]
    panel.sound.value = "chirp"
    np.testing.assert_allclose(_wav(panel.original_player.value), demo_sound("chirp"), atol=1 / 32767)


def test_mulaw_explorer_takes_your_audio():
    audio = 0.5 * _sine(220.0, 4000)
    panel = MuLawExplorer(audio, mu=100, bits=6)
    assert panel.sound.value == "your sound"
    assert panel.state["snr_db"] == pytest.approx(quantization_snr(audio, 100, 6))
    with pytest.raises(AudioError):
        MuLawExplorer(np.zeros((2, 100), np.float32) + 0.1)
    with pytest.raises(ParameterError, match="`mu` must be an integer in \\[1, 1023\\]. Received: mu=0."):
        MuLawExplorer(mu=0)


def test_mulaw_explorer_rejects_tampered_values():
    panel = MuLawExplorer()
    good = dict(panel.state)
    good_audio = panel.quantized_player.value
    panel.mu.min = -5
    panel.mu.value = 0
    assert "`mu` must be an integer in [1, 1023]. Received: mu=0." in panel.error.value
    assert panel.state["snr_db"] == good["snr_db"] and panel.quantized_player.value == good_audio
    panel.mu.value = 255
    assert panel.error.value == ""
    panel.bits.max = 64
    panel.bits.value = 40
    assert "`bits` must be an integer in [2, 16]. Received: bits=40." in panel.error.value
    assert panel.state["snr_db"] == good["snr_db"] and panel.quantized_player.value == good_audio
    panel.bits.value = 8
    panel.mu.value = 100
    assert panel.error.value == "" and panel.state["mu"] == 100


# --------------------------------------------------------------------------------------------
# stepper


@pytest.fixture(scope="module")
def encoding():
    return np.random.default_rng(5).normal(size=(3, 16)).astype(np.float32)  # 3 frames = 192 samples


def test_stepping_reproduces_generate(tiny_model, encoding):
    panel = Stepper(tiny_model, encoding, seed=11, temperature=0.8)
    for _ in range(5):
        panel.step_button.click()
    panel.step_many_button.click()
    expected = fastgen.generate(tiny_model.decoder_weights, encoding[None], seed=11, temperature=0.8)
    assert panel.position == 105
    np.testing.assert_array_equal(panel.classes, expected[0, :105])
    assert bytes(panel.image.value).startswith(PNG)
    chosen = int(panel.classes[-1])
    assert f"class {chosen}" in panel.status.value and f"{(chosen - 128) / 128:+.4f}" in panel.status.value
    np.testing.assert_allclose(_wav(panel.player.value), panel.audio, atol=1 / 32767)


def test_distribution_is_the_tempered_softmax_of_the_logits(tiny_model, encoding):
    panel = Stepper(tiny_model, encoding, seed=2, temperature=0.7)
    for _ in range(3):
        panel.step_button.click()
    # the same logits, recorded independently by teacher-forcing the generated samples
    forced = np.zeros((1, 192), np.int32)
    forced[0, :3] = panel.classes
    logits = (
        fastgen.IncrementalDecoder(tiny_model.decoder_weights, encoding[None])
        .step(3, forced=forced, record_logits=True)[0, -1]
        .astype(np.float64)
    )
    np.testing.assert_allclose(panel.last_logits, logits, rtol=1e-6)
    expected = np.exp(logits / 0.7) / np.exp(logits / 0.7).sum()
    np.testing.assert_allclose(panel.distribution, expected, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(temperature_softmax(logits, 0.7), expected, rtol=1e-9)


def _entropy(p):
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def test_temperature_moves_entropy_the_right_way(tiny_model, encoding):
    panel = Stepper(tiny_model, encoding)
    panel.step_button.click()
    at_one = _entropy(panel.distribution)
    assert entropy_bits(panel.distribution) == pytest.approx(at_one)
    panel.temperature.value = 0.5
    colder = _entropy(panel.distribution)
    panel.temperature.value = 2.0
    hotter = _entropy(panel.distribution)
    assert colder < at_one < hotter <= 8.0
    assert entropy_bits(np.full(256, 1 / 256)) == pytest.approx(8.0)
    assert entropy_bits(np.eye(256)[3]) == 0.0


def test_greedy_takes_the_most_likely_class(tiny_model, encoding):
    panel = Stepper(tiny_model, encoding, greedy=True)
    panel.step_many_button.click()
    assert int(panel.classes[-1]) == int(np.argmax(panel.last_logits))
    assert "drawn greedily" in panel.status.value
    expected = fastgen.generate(tiny_model.decoder_weights, encoding[None], greedy=True)
    np.testing.assert_array_equal(panel.classes, expected[0, :100])


def test_reset_clears_and_reseeds(tiny_model, encoding):
    panel = Stepper(tiny_model, encoding, seed=4)
    panel.step_many_button.click()
    first = panel.classes
    panel.reset_button.click()
    assert panel.position == 0 and panel.classes.size == 0
    assert panel.last_logits is None and panel.distribution is None and panel.player.value == b""
    panel.step_many_button.click()
    np.testing.assert_array_equal(panel.classes, first)


def test_end_of_the_encoding_is_reported(tiny_model):
    panel = Stepper(tiny_model, np.zeros((1, 16), np.float32))
    panel.step_many_button.click()
    assert panel.position == panel.total == TINY.hop_length
    panel.step_button.click()
    assert "press Reset" in panel.error.value and panel.position == TINY.hop_length


@pytest.mark.parametrize("bad", [0.0, -0.5])
def test_invalid_temperature_shows_an_error_and_steps_nothing(tiny_model, encoding, bad):
    panel = Stepper(tiny_model, encoding)
    panel.step_button.click()
    shown = panel.distribution.copy()
    panel.temperature.min = -1.0  # what a tampered front end can do before sending the value
    panel.temperature.value = bad
    assert f"`temperature` must be a number in [0.01, 10]. Received: temperature={bad}." in panel.error.value
    np.testing.assert_array_equal(panel.distribution, shown)
    panel.step_button.click()
    assert panel.position == 1 and "`temperature` must be" in panel.error.value
    panel.temperature.value = 1.0
    panel.step_button.click()
    assert panel.position == 2 and panel.error.value == ""


def test_stepper_rejects_bad_arguments(tiny_model):
    with pytest.raises(ParameterError, match="`model` must be 'default', a .npz weights file or a checkpoint prefix"):
        Stepper(object(), np.zeros((1, 16)))
    with pytest.raises(EncodingError):
        Stepper(tiny_model, np.zeros((2, 8)))
    with pytest.raises(ParameterError, match="`encoding` must hold one sound"):
        Stepper(tiny_model, np.zeros((2, 1, 16)))
    with pytest.raises(ParameterError, match="Received: temperature=0"):
        Stepper(tiny_model, np.zeros((1, 16)), temperature=0)
    with pytest.raises(ParameterError, match="`seed` must be an integer >= 0"):
        Stepper(tiny_model, np.zeros((1, 16)), seed=-1)
