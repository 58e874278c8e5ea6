"""Properties of the plots (artists, axes, limits, data), not pixels."""

import struct
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import librosa  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from nsynth_widgets import plotting  # noqa: E402
from nsynth_widgets.errors import AudioError, EncodingError, ParameterError  # noqa: E402
from nsynth_widgets.metrics import spectral_distance  # noqa: E402

SR = 16000


def _sine(freq, n=8000, amplitude=0.5, sr=SR):
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


def _encoding(frames=20, channels=16, seed=0):
    return np.random.default_rng(seed).standard_normal((frames, channels)).astype(np.float32)


@pytest.fixture
def ax():
    return Figure().add_subplot()


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def test_import_loads_neither_tensorflow_nor_librosa():
    code = (
        "import sys, nsynth_widgets.plotting; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'librosa') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------ waveform


def test_waveform_draws_on_given_axes_in_seconds(ax):
    audio = _sine(440, n=12345)
    line = plotting.plot_waveform(audio, sample_rate=SR, ax=ax, color="red")
    assert isinstance(line, Line2D) and line.axes is ax and line in ax.lines
    np.testing.assert_allclose(line.get_xdata(), np.arange(12345) / SR)
    np.testing.assert_array_equal(line.get_ydata(), audio)
    assert ax.get_xlim() == pytest.approx((0.0, 12345 / SR))
    assert ax.get_ylim() == pytest.approx((-1.0, 1.0))
    assert line.get_color() == "red"
    assert ax.get_xlabel() == "Time (s)" and ax.get_ylabel()


def test_waveform_other_sample_rate_and_new_figure():
    line = plotting.plot_waveform(_sine(100, n=4410, sr=44100), sample_rate=44100)
    assert isinstance(line.figure, Figure)
    assert line.axes.get_xlim() == pytest.approx((0.0, 0.1))


# ------------------------------------------------------------------------------------ encoding


@pytest.mark.parametrize("batched", [False, True])
def test_encoding_lines_at_frame_centres(ax, batched):
    enc = _encoding(frames=78)
    lines = plotting.plot_encoding(enc[None] if batched else enc, hop_length=512, sample_rate=SR, ax=ax)
    assert len(lines) == 16 and all(isinstance(line, Line2D) and line.axes is ax for line in lines)
    expected_x = np.array([256 + 512 * f for f in range(78)]) / 16000.0
    for c, line in enumerate(lines):
        np.testing.assert_allclose(line.get_xdata(), expected_x)
        np.testing.assert_array_equal(line.get_ydata(), enc[:, c])
    assert ax.get_xlim() == pytest.approx((0.0, 78 * 512 / SR))


def test_encoding_any_width_and_cmap(ax):
    lines = plotting.plot_encoding(_encoding(frames=5, channels=3), hop_length=256, ax=ax, cmap="viridis")
    assert len(lines) == 3
    colours = [matplotlib.colors.to_rgba(line.get_color()) for line in lines]
    np.testing.assert_allclose(colours, matplotlib.colormaps["viridis"]([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(lines[0].get_xdata(), (np.arange(5) + 0.5) * 256 / SR)


def test_encoding_image_extent_matches_lines(ax):
    enc = _encoding(frames=31)
    image = plotting.plot_encoding_image(enc[None], hop_length=512, sample_rate=SR, ax=ax, cmap="magma")
    assert isinstance(image, AxesImage) and image in ax.images
    np.testing.assert_array_equal(image.get_array(), enc.T)
    assert image.get_extent() == pytest.approx([0.0, 31 * 512 / SR, -0.5, 15.5])
    assert image.get_cmap().name == "magma"


# ------------------------------------------------------------------------------------ spectra


def test_spectrogram_matches_librosa_and_peaks_at_sine(ax):
    audio = _sine(1000, n=SR)
    image = plotting.plot_spectrogram(audio, sample_rate=SR, n_fft=1024, hop_length=256, ax=ax, top_db=80)
    assert isinstance(image, AxesImage) and image in ax.images
    db = np.asarray(image.get_array())
    expected = librosa.amplitude_to_db(
        np.abs(librosa.stft(audio, n_fft=1024, hop_length=256, pad_mode="constant")), ref=np.max, top_db=80
    )
    assert db.shape == expected.shape == (513, 1 + SR // 256)
    np.testing.assert_allclose(db, expected, atol=1e-2)
    lo, hi = image.get_extent()[2:]
    freqs = lo + (np.arange(db.shape[0]) + 0.5) * (hi - lo) / db.shape[0]
    assert abs(freqs[np.argmax(db.mean(axis=1))] - 1000.0) <= SR / 1024
    assert ax.get_xlim() == pytest.approx((0.0, 1.0))
    assert ax.get_ylim() == pytest.approx((0.0, SR / 2))
    assert db.max() == 0.0 and db.min() >= -80.0


def test_spectrogram_of_silence_is_floor():
    db = np.asarray(plotting.plot_spectrogram(np.zeros(2000), top_db=60).get_array())
    assert np.all(db == -60.0)


def _cqt_freqs(n_bins, bins_per_octave=48):
    return librosa.cqt_frequencies(n_bins, fmin=librosa.note_to_hz("C1"), bins_per_octave=bins_per_octave)


def test_rainbowgram_default_bins_are_the_most_under_nyquist():
    image = plotting.plot_rainbowgram(_sine(440, n=4096), hop_length=256)
    n_bins = image.get_array().shape[0]
    assert _cqt_freqs(n_bins)[-1] < SR / 2
    with pytest.raises(librosa.util.exceptions.ParameterError, match="Nyquist"):
        librosa.cqt(_sine(440, n=4096), sr=SR, n_bins=n_bins + 1, bins_per_octave=48, tuning=0.0)


@pytest.mark.parametrize("freq", [440.0, 1000.0])
def test_rainbowgram_rgba_brightness_and_hue(ax, freq):
    audio = _sine(freq, n=8000)
    image = plotting.plot_rainbowgram(audio, sample_rate=SR, hop_length=256, ax=ax)
    assert isinstance(image, AxesImage) and image in ax.images
    rgba = np.asarray(image.get_array())
    assert rgba.shape == (rgba.shape[0], 1 + 8000 // 256, 4)
    assert rgba.min() >= 0.0 and rgba.max() <= 1.0 and rgba[..., 3].max() == 1.0
    expected_bin = int(np.argmin(np.abs(np.log2(_cqt_freqs(rgba.shape[0]) / freq))))
    assert int(np.argmax(rgba[..., 3].mean(axis=1))) == expected_bin
    # steady sine: phase advances 2*pi*f*hop/sr per frame -> one hue along its row
    advance = np.angle(np.exp(2j * np.pi * freq * 256 / SR))
    colour = matplotlib.colormaps["hsv"]((advance + np.pi) / (2 * np.pi))[:3]
    np.testing.assert_allclose(rgba[expected_bin, 5:-5, :3], np.tile(colour, (rgba.shape[1] - 10, 1)), atol=0.05)
    assert ax.get_xlim() == pytest.approx((0.0, 0.5))
    assert ax.get_ylim() == pytest.approx((-0.5, rgba.shape[0] - 0.5))


@pytest.mark.filterwarnings("ignore:n_fft=.* is too large:UserWarning")
def test_rainbowgram_alpha_is_cqt_db_from_c1_without_tuning():
    audio = _sine(523.0, n=6000) + _sine(3050.0, n=6000, amplitude=0.1)  # off the quarter-tone grid
    rgba = np.asarray(plotting.plot_rainbowgram(audio, n_bins=300, peak=60.0).get_array())
    cqt = librosa.cqt(
        audio, sr=SR, hop_length=256, fmin=librosa.note_to_hz("C1"), n_bins=300, bins_per_octave=48, tuning=0.0
    )
    db = librosa.amplitude_to_db(np.abs(cqt), ref=np.max, amin=1e-12, top_db=None)
    np.testing.assert_allclose(rgba[..., 3], np.clip(db + 60.0, 0.0, 60.0) / 60.0, atol=1e-3)


def test_rainbowgram_explicit_bins_and_silence():
    image = plotting.plot_rainbowgram(np.zeros(1024, dtype=np.float32), n_bins=96, bins_per_octave=24)
    rgba = np.asarray(image.get_array())
    assert rgba.shape == (96, 1 + 1024 // 256, 4)
    assert np.all(rgba[..., 3] == 0.0)


def test_rainbowgram_too_many_bins():
    with pytest.raises(ParameterError, match=r"`n_bins` must be at most \d+ .*Received: n_bins=500\."):
        plotting.plot_rainbowgram(_sine(440, n=2048), n_bins=500)


# ------------------------------------------------------------------------------------ figures


def test_compare_figure():
    original, resynthesis = _sine(440, n=8000), 0.8 * _sine(440, n=7680)
    fig = plotting.compare_figure(original, resynthesis, sample_rate=SR)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    distance = spectral_distance(original, resynthesis)
    titles = [ax.get_title() for ax in fig.axes]
    assert f"{distance:.2f} dB" in titles[1] and f"{distance:.2f} dB" in titles[3]
    assert "Original" in titles[0]
    assert [len(fig.axes[i].lines) for i in (0, 1)] == [1, 1]
    assert [len(fig.axes[i].images) for i in (2, 3)] == [1, 1]
    for ax in fig.axes:
        assert ax.get_xlim() == pytest.approx((0.0, 0.5))


def test_encoding_figure_shares_time_axis():
    audio, enc = _sine(440, n=40000), _encoding(frames=78)
    fig = plotting.encoding_figure(audio, enc[None], hop_length=512, sample_rate=SR)
    wave_ax, enc_ax = fig.axes
    assert wave_ax.get_shared_x_axes().joined(wave_ax, enc_ax)
    assert len(wave_ax.lines) == 1 and len(enc_ax.lines) == 16
    assert enc_ax.get_xlim() == pytest.approx((0.0, 40000 / SR))
    np.testing.assert_allclose(enc_ax.lines[0].get_xdata()[[0, -1]], [0.016, 77.5 * 512 / SR])


def test_f0_in_hz_at_frame_centres_solid_where_voiced(ax):
    pitch = np.stack([np.log2(np.array([220.0, 220.0, 330.0, 440.0]) / 440.0), [1.0, 0.9, 0.2, 1.0]], axis=-1)
    line = plotting.plot_f0(pitch, hop_length=512, ax=ax)
    x, y = line.get_data()
    np.testing.assert_allclose(x, (np.arange(4) + 0.5) * 512 / 16000)
    np.testing.assert_allclose(y, [220.0, 220.0, np.nan, 440.0])
    assert ax.get_yscale() == "log" and ax.get_xlim() == (0.0, 4 * 512 / 16000)
    dotted = [other for other in ax.lines if other is not line]
    np.testing.assert_allclose(dotted[0].get_ydata(), [220.0, 220.0, 330.0, 440.0])
    with pytest.raises(ParameterError, match=r"`pitch` must have the 2 pitch channels"):
        plotting.plot_f0(np.zeros((4, 3)), ax=ax)


def test_encoding_figure_of_a_pitch_conditioned_model_has_a_pitch_axes():
    encoding = np.zeros((1, 10, 16))
    encoding[..., 14], encoding[..., 15] = -1.0, 1.0
    figure = plotting.encoding_figure(np.zeros(5120), encoding, f0_channel=14)
    wave_ax, learned_ax, pitch_ax = figure.axes
    assert len(learned_ax.lines) == 14 and learned_ax.get_title().startswith("Learned channels (14 of 16")
    np.testing.assert_allclose(pitch_ax.lines[-1].get_ydata(), 220.0)


def test_figure_to_png():
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1])
    png = plotting.figure_to_png(fig, dpi=50)
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (150, 100)  # IHDR width, height
    assert plotting.figure_to_png(fig, dpi=50) == png  # figure still usable


def test_functions_leave_inputs_untouched():
    audio, enc = _sine(440, n=4096), _encoding(frames=8)
    audio.setflags(write=False)
    enc.setflags(write=False)
    copies = audio.copy(), enc.copy()
    plotting.plot_waveform(audio)
    plotting.plot_encoding(enc)
    plotting.plot_encoding_image(enc)
    plotting.plot_spectrogram(audio)
    plotting.plot_rainbowgram(audio, n_bins=48)
    plotting.encoding_figure(audio, enc)
    np.testing.assert_array_equal(audio, copies[0])
    np.testing.assert_array_equal(enc, copies[1])


# ------------------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: plotting.plot_waveform(np.zeros((2, 100))),
            AudioError,
            r"`audio` must have shape \(n,\) \(one mono sound\)\. Received: audio=array\(shape=\(2, 100\)",
        ),
        (
            lambda: plotting.plot_waveform(np.zeros(0)),
            AudioError,
            r"`audio` must not be empty",
        ),
        (
            lambda: plotting.plot_waveform(np.array(["a", "b"])),
            AudioError,
            r"`audio` must be an array of real numbers \(float or integer\)\. Received: audio=array\(shape=\(2,\)",
        ),
        (
            lambda: plotting.plot_spectrogram(np.array([0.0, np.nan, np.inf])),
            AudioError,
            r"`audio` must not contain NaN or Inf\. Received: audio with 2 non-finite values \(1 NaN, 1 Inf\)",
        ),
        (
            lambda: plotting.plot_waveform(_sine(1), sample_rate=0),
            ParameterError,
            r"`sample_rate` must be a finite number > 0\. Received: sample_rate=0\.",
        ),
        (
            lambda: plotting.plot_waveform(_sine(1), ax="axes"),
            ParameterError,
            r"`ax` must be a matplotlib Axes or None\. Received: ax='axes'\.",
        ),
        (
            lambda: plotting.plot_encoding(np.zeros((2, 78, 16))),
            EncodingError,
            r"`encoding` must have shape \(frames, channels\) or \(1, frames, channels\)"
            r".*Received: encoding=array\(shape=\(2, 78, 16\)",
        ),
        (
            lambda: plotting.plot_encoding_image(np.zeros(16)),
            EncodingError,
            r"Received: encoding=array\(shape=\(16,\)",
        ),
        (
            lambda: plotting.plot_encoding(np.zeros((0, 16))),
            EncodingError,
            r"at least one frame",
        ),
        (
            lambda: plotting.plot_encoding(np.full((3, 16), np.nan)),
            EncodingError,
            r"only finite values .* 48 non-finite",
        ),
        (
            lambda: plotting.plot_encoding(np.array([["a", "b"]])),
            EncodingError,
            r"`encoding` must be a numeric array",
        ),
        (
            lambda: plotting.plot_encoding(_encoding(), hop_length=0),
            ParameterError,
            r"`hop_length` must be an integer >= 1\. Received: hop_length=0\.",
        ),
        (
            lambda: plotting.plot_encoding(_encoding(), cmap="no-such-map"),
            ParameterError,
            r"`cmap` must be a matplotlib colormap .* Received: cmap='no-such-map'\.",
        ),
        (
            lambda: plotting.plot_spectrogram(_sine(1), n_fft=1.5),
            ParameterError,
            r"`n_fft` must be an integer >= 1\. Received: n_fft=1\.5\.",
        ),
        (
            lambda: plotting.plot_spectrogram(_sine(1), top_db=-10),
            ParameterError,
            r"`top_db` must be a finite number > 0",
        ),
        (
            lambda: plotting.plot_rainbowgram(_sine(1), peak=0),
            ParameterError,
            r"`peak` must be a finite number > 0\. Received: peak=0\.",
        ),
        (
            lambda: plotting.plot_rainbowgram(_sine(1), bins_per_octave=True),
            ParameterError,
            r"`bins_per_octave` must be an integer >= 1\. Received: bins_per_octave=True\.",
        ),
        (
            lambda: spectral_distance(_sine(1), np.zeros(0)),
            AudioError,
            r"`estimate` must not be empty",
        ),
        (
            lambda: spectral_distance([1, 2], _sine(1)),
            AudioError,
            r"`reference` must lie in \[-1, 1\]\. Received: reference with peak \|x\| = 2 at index 1",
        ),
        (
            lambda: spectral_distance(_sine(1), _sine(1), fft_sizes=()),
            ParameterError,
            r"`fft_sizes` must be a non-empty sequence of integers >= 2\. Received: fft_sizes=\(\)\.",
        ),
        (
            lambda: spectral_distance(_sine(1), _sine(1), fft_sizes=(512, 1)),
            ParameterError,
            r"`fft_sizes` must be an integer >= 2\. Received: fft_sizes=1\.",
        ),
        (
            lambda: plotting.compare_figure(_sine(1), np.ones((3, 3))),
            AudioError,
            r"`resynthesis` must have shape \(n,\) \(one mono sound\)",
        ),
        (
            lambda: plotting.figure_to_png("figure"),
            ParameterError,
            r"`fig` must be a matplotlib Figure\. Received: fig='figure'\.",
        ),
        (
            lambda: plotting.figure_to_png(Figure(), dpi=-1),
            ParameterError,
            r"`dpi` must be a finite number > 0\. Received: dpi=-1\.",
        ),
    ],
)
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()
