"""matplotlib figures for sounds and their NSynth encodings.

Every ``plot_*`` function draws into ``ax`` and returns the artist it made. With ``ax=None`` it
draws into a new :class:`matplotlib.figure.Figure` (reach it through ``artist.figure``), so nothing
is registered with pyplot and no global state leaks into a notebook or a server. Time axes are
in seconds at ``sample_rate``; encoding frames are drawn at their centres, so a waveform and its
encoding line up on a shared time axis.

librosa is imported inside the functions that need it (the spectrogram's STFT, the rainbowgram),
so importing this module stays cheap. Nothing here imports TensorFlow.
"""

import functools
import io
import warnings

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from .audio import validate_audio
from .metrics import spectral_distance, stft_magnitude
from .errors import EncodingError, ParameterError, check_integer, check_number, describe
from .dsp.framing import HOP_LENGTH, SAMPLE_RATE

__all__ = [
    "plot_waveform",
    "plot_encoding",
    "plot_encoding_image",
    "plot_f0",
    "plot_spectrogram",
    "plot_rainbowgram",
    "compare_figure",
    "encoding_figure",
    "figure_to_png",
]

# --------------------------------------------------------------------------------------------
# validation


def _check_audio(audio, name="audio"):
    """``audio`` as one sound that may be silent: float32 ``(n,)`` (see :func:`~nsynth_widgets.audio.validate_audio`)."""
    return validate_audio(audio, name, allow_silence=True, ndim=1)


def _check_encoding(encoding):
    """Return ``encoding`` as a finite float array of shape (frames, channels) (no copy)."""
    try:
        array = np.asarray(encoding)
    except ValueError:
        array = None
    if array is None or array.dtype.kind not in "fiu":
        raise EncodingError(f"`encoding` must be a numeric array. Received: encoding={describe(encoding)}.")
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or 0 in array.shape:
        raise EncodingError(
            "`encoding` must have shape (frames, channels) or (1, frames, channels) with at least one "
            f"frame and one channel. Received: encoding={describe(encoding)}."
        )
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise EncodingError(
            f"`encoding` must contain only finite values (no NaN or Inf). "
            f"Received: encoding={describe(encoding)} with {bad} non-finite values."
        )
    return array


def _check_ax(ax):
    if ax is None:
        return Figure().add_subplot()
    if not isinstance(ax, Axes):
        raise ParameterError(f"`ax` must be a matplotlib Axes or None. Received: ax={describe(ax)}.")
    return ax


def _check_cmap(cmap):
    if cmap is None or isinstance(cmap, Colormap):
        return cmap
    if isinstance(cmap, str) and cmap in colormaps:
        return colormaps[cmap]
    raise ParameterError(f"`cmap` must be a matplotlib colormap or the name of one. Received: cmap={describe(cmap)}.")


# --------------------------------------------------------------------------------------------
# spectra


def _to_db(magnitude, floor_db):
    """Magnitude in dB relative to its maximum, clipped below at ``floor_db`` (<= 0).

    Silence (an all-zero magnitude) maps to ``floor_db`` everywhere rather than to 0 dB.
    """
    peak = magnitude.max()
    ref = peak if peak > 0 else 1.0
    db = 20.0 * np.log10(np.maximum(magnitude, 1e-12) / ref)
    return np.maximum(db, floor_db)


@functools.lru_cache(maxsize=16)
def _max_cqt_bins(sample_rate, bins_per_octave):
    """Largest CQT size from C1 whose highest filter stays under Nyquist (librosa's own rule)."""
    import librosa

    fmin = librosa.note_to_hz("C1")
    nyquist = sample_rate / 2.0
    n_bins = int(np.floor(bins_per_octave * np.log2(nyquist / fmin))) + 1
    while n_bins >= 2:
        freqs = librosa.cqt_frequencies(n_bins=n_bins, fmin=fmin, bins_per_octave=bins_per_octave)
        _, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sample_rate)
        if cutoff <= nyquist:
            return n_bins
        n_bins -= 1
    raise ParameterError(
        "`sample_rate` must leave at least two CQT bins between C1 (32.7 Hz) and Nyquist. "
        f"Received: sample_rate={describe(sample_rate)}."
    )


# --------------------------------------------------------------------------------------------
# axes-level plots


def plot_waveform(audio, sample_rate=SAMPLE_RATE, ax=None, **line_kwargs):
    """Draw a waveform against time in seconds.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], float
        Audio in [-1, 1] (the y limits).
    sample_rate : float
        Samples per second.
    ax : matplotlib.axes.Axes or None
        Where to draw; a new figure's axes when None.
    **line_kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot` (``linewidth`` defaults to 0.6).

    Returns
    -------
    line : matplotlib.lines.Line2D
        Sample ``i`` at x = ``i / sample_rate``; the x limits are ``[0, n / sample_rate]``.
    """
    audio = _check_audio(audio)
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    ax = _check_ax(ax)
    times = np.arange(audio.size) / sample_rate
    (line,) = ax.plot(times, audio, **{"linewidth": 0.6, **line_kwargs})
    ax.set_xlim(0.0, audio.size / sample_rate)
    ax.set_ylim(-1.0, 1.0)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Amplitude")
    return line


def plot_encoding(encoding, hop_length=HOP_LENGTH, sample_rate=SAMPLE_RATE, ax=None, cmap=None):
    """Draw each encoding channel as a line over time.

    Parameters
    ----------
    encoding : np.ndarray [shape=(frames, channels) or (1, frames, channels)], float
        An NSynth encoding (16 channels for the published model; any width is drawn).
    hop_length : int
        Samples per encoding frame (512 for NSynth).
    sample_rate : float
        Samples per second of the encoded audio.
    ax : matplotlib.axes.Axes or None
        Where to draw; a new figure's axes when None.
    cmap : str or matplotlib.colors.Colormap or None
        Colour the channels along this colormap; the axes' colour cycle when None.

    Returns
    -------
    lines : list of matplotlib.lines.Line2D [length=channels]
        Frame ``f`` is drawn at its centre, x = ``(f + 0.5) * hop_length / sample_rate``; the x
        limits are ``[0, frames * hop_length / sample_rate]``.
    """
    encoding = _check_encoding(encoding)
    hop_length = check_integer("hop_length", hop_length, 1)
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    ax = _check_ax(ax)
    cmap = _check_cmap(cmap)
    frames, channels = encoding.shape
    centres = (np.arange(frames) + 0.5) * hop_length / sample_rate
    colours = cmap(np.linspace(0.0, 1.0, channels)) if cmap is not None else [None] * channels
    lines = [
        ax.plot(centres, encoding[:, c], color=colours[c], linewidth=1.0, label=f"channel {c}")[0]
        for c in range(channels)
    ]
    ax.set_xlim(0.0, frames * hop_length / sample_rate)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Encoding value")
    return lines


def plot_encoding_image(encoding, hop_length=HOP_LENGTH, sample_rate=SAMPLE_RATE, ax=None, cmap=None):
    """Draw an encoding as a channels × frames heat map on a time axis in seconds.

    Parameters
    ----------
    encoding : np.ndarray [shape=(frames, channels) or (1, frames, channels)], float
    hop_length : int
        Samples per encoding frame.
    sample_rate : float
        Samples per second of the encoded audio.
    ax : matplotlib.axes.Axes or None
        Where to draw; a new figure's axes when None.
    cmap : str or matplotlib.colors.Colormap or None
        The image's colormap (matplotlib's default when None).

    Returns
    -------
    image : matplotlib.image.AxesImage
        Array of shape (channels, frames); column ``f`` spans
        ``[f, f + 1] * hop_length / sample_rate`` seconds, row ``c`` is channel ``c``.
    """
    encoding = _check_encoding(encoding)
    hop_length = check_integer("hop_length", hop_length, 1)
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    ax = _check_ax(ax)
    cmap = _check_cmap(cmap)
    frames, channels = encoding.shape
    image = ax.imshow(
        encoding.T,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        cmap=cmap,
        extent=(0.0, frames * hop_length / sample_rate, -0.5, channels - 0.5),
    )
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Channel")
    return image


def plot_f0(pitch, hop_length=HOP_LENGTH, sample_rate=SAMPLE_RATE, ax=None, **line_kwargs):
    """Draw the f0 channel of a pitch-conditioned encoding in Hz, solid where voiced.

    Parameters
    ----------
    pitch : np.ndarray [shape=(frames, 2) or (1, frames, 2)], float
        The f0 (``log2(f0 / 440)``) and voicing channels, e.g. ``encoding[0, :, -2:]``.
    hop_length : int
        Samples per encoding frame.
    sample_rate : float
    ax : matplotlib.axes.Axes or None
    **line_kwargs
        Passed to ``ax.plot`` for the voiced line.

    Returns
    -------
    line : matplotlib.lines.Line2D
        f0 at the frame centres (as in :func:`plot_encoding`), NaN where the voicing is below 0.5;
        the whole channel (what the oscillator follows, unvoiced gaps bridged) is drawn dotted
        underneath. The y axis is logarithmic, in Hz.
    """
    from .dsp.pitch import channel_to_f0

    pitch = _check_encoding(pitch)
    if pitch.shape[1] != 2:
        raise ParameterError(
            f"`pitch` must have the 2 pitch channels (f0, voicing) in its last axis. Received: pitch with shape {pitch.shape}."
        )
    hop_length = check_integer("hop_length", hop_length, 1)
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    ax = _check_ax(ax)
    centres = (np.arange(pitch.shape[0]) + 0.5) * hop_length / sample_rate
    f0 = channel_to_f0(pitch[:, 0])
    ax.plot(centres, f0, linestyle=":", linewidth=1.0, color="0.5")
    line = ax.plot(centres, np.where(pitch[:, 1] >= 0.5, f0, np.nan), linewidth=2.0, **line_kwargs)[0]
    ax.set_yscale("log")
    ax.set_xlim(0.0, pitch.shape[0] * hop_length / sample_rate)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("f0 (Hz)")
    return line


def plot_spectrogram(audio, sample_rate=SAMPLE_RATE, n_fft=1024, hop_length=256, ax=None, top_db=80):
    """Draw the log-magnitude STFT (dB relative to the loudest bin) with frequency in Hz.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], float
    sample_rate : float
        Samples per second.
    n_fft : int
        FFT size (Hann window of the same length; centred, zero-padded frames).
    hop_length : int
        Samples between frames.
    ax : matplotlib.axes.Axes or None
        Where to draw; a new figure's axes when None.
    top_db : float or None
        Dynamic range shown: values are clipped to ``[-top_db, 0]`` dB. None shows everything.

    Returns
    -------
    image : matplotlib.image.AxesImage
        Array of shape (n_fft // 2 + 1, 1 + n // hop_length) in dB; row ``k`` is centred on
        ``k * sample_rate / n_fft`` Hz, column ``t`` on ``t * hop_length / sample_rate`` s. The x
        limits are ``[0, n / sample_rate]``.
    """
    audio = _check_audio(audio)
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    n_fft = check_integer("n_fft", n_fft, 1)
    hop_length = check_integer("hop_length", hop_length, 1)
    if top_db is not None:
        top_db = check_number("top_db", top_db, 0, low_open=True)
    ax = _check_ax(ax)
    floor_db = -np.inf if top_db is None else -top_db
    db = _to_db(stft_magnitude(audio, n_fft, hop_length), floor_db)
    bin_hz = sample_rate / n_fft
    frame_s = hop_length / sample_rate
    image = ax.imshow(
        db,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        cmap="magma",
        extent=(
            -0.5 * frame_s,
            (db.shape[1] - 0.5) * frame_s,
            -0.5 * bin_hz,
            (db.shape[0] - 0.5) * bin_hz,
        ),
        vmin=None if top_db is None else floor_db,
        vmax=0.0,
    )
    ax.set_xlim(0.0, audio.size / sample_rate)
    ax.set_ylim(0.0, sample_rate / 2.0)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Frequency (Hz)")
    return image


def plot_rainbowgram(
    audio, sample_rate=SAMPLE_RATE, hop_length=256, bins_per_octave=48, n_bins=None, ax=None, peak=70.0
):
    """Draw the NSynth paper's rainbowgram: CQT magnitude as opacity, instantaneous frequency as hue.

    The constant-Q transform (``librosa.cqt`` from C1, no tuning estimation) gives ``C``. Its
    instantaneous frequency is the frame-to-frame phase advance
    ``np.diff(np.unwrap(np.angle(C), axis=1), axis=1)`` wrapped to [-pi, pi] and mapped to hue
    with the cyclic ``'hsv'`` colormap (the first frame repeats the first difference, so there is
    one column per CQT frame). Opacity is the magnitude in dB relative to the loudest bin,
    clipped to ``[-peak, 0]`` and rescaled to [0, 1]: quiet regions fade to the background.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], float
    sample_rate : float
        Samples per second.
    hop_length : int
        Samples between CQT frames.
    bins_per_octave : int
        Frequency resolution (48 = quarter-tone steps, as in the paper).
    n_bins : int or None
        Number of CQT bins from C1. None uses the most that fit under Nyquist (381 at 16 kHz
        with 48 bins per octave); more raise :class:`~nsynth_widgets.errors.ParameterError`.
    ax : matplotlib.axes.Axes or None
        Where to draw; a new figure's axes when None.
    peak : float
        Dynamic range in dB mapped onto opacity.

    Returns
    -------
    image : matplotlib.image.AxesImage
        RGBA array of shape (n_bins, 1 + n // hop_length, 4), float in [0, 1]; row ``k`` is CQT
        bin ``k`` (frequency ``librosa.cqt_frequencies(...)[k]``; the y ticks name each octave's
        C), column ``t`` is centred on ``t * hop_length / sample_rate`` s. The x limits are
        ``[0, n / sample_rate]``.
    """
    audio = _check_audio(audio)
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    hop_length = check_integer("hop_length", hop_length, 1)
    bins_per_octave = check_integer("bins_per_octave", bins_per_octave, 1)
    peak = check_number("peak", peak, 0, low_open=True)
    max_bins = _max_cqt_bins(sample_rate, bins_per_octave)
    if n_bins is None:
        n_bins = max_bins
    elif check_integer("n_bins", n_bins, 1) > max_bins:
        raise ParameterError(
            f"`n_bins` must be at most {max_bins} so that the highest CQT filter from C1 stays under "
            f"Nyquist ({sample_rate / 2:g} Hz) at {bins_per_octave} bins per octave. Received: n_bins={n_bins}."
        )
    ax = _check_ax(ax)

    import librosa

    with warnings.catch_warnings():
        # The low octaves run on heavily downsampled copies of the signal; for clips shorter
        # than a few seconds librosa warns that their FFT is longer than the copy (harmless).
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        cqt = librosa.cqt(
            np.asarray(audio, dtype=np.float32),
            sr=sample_rate,
            hop_length=hop_length,
            fmin=librosa.note_to_hz("C1"),
            n_bins=int(n_bins),
            bins_per_octave=bins_per_octave,
            tuning=0.0,
        )
    advance = np.diff(np.unwrap(np.angle(cqt), axis=1), axis=1)
    if advance.shape[1] == 0:  # a single frame has no phase advance; show it as zero
        advance = np.zeros(cqt.shape)
    else:
        advance = np.concatenate([advance[:, :1], advance], axis=1)
    hue = (np.angle(np.exp(1j * advance)) + np.pi) / (2.0 * np.pi)
    rgba = colormaps["hsv"](hue)
    rgba[..., 3] = (_to_db(np.abs(cqt), -peak) + peak) / peak

    frame_s = hop_length / sample_rate
    image = ax.imshow(
        rgba,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(-0.5 * frame_s, (rgba.shape[1] - 0.5) * frame_s, -0.5, n_bins - 0.5),
    )
    octaves = np.arange(0, n_bins, bins_per_octave)
    ax.set_yticks(octaves, [f"C{1 + k // bins_per_octave}" for k in octaves])
    ax.set_xlim(0.0, audio.size / sample_rate)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Pitch (CQT bin)")
    return image


# --------------------------------------------------------------------------------------------
# measures and figures


def compare_figure(original, resynthesis, sample_rate=SAMPLE_RATE):
    """Side-by-side figure of a sound and its resynthesis.

    Parameters
    ----------
    original, resynthesis : np.ndarray [shape=(n,)], float
        May differ in length (the resynthesis usually covers whole encoding frames only).
    sample_rate : float
        Samples per second.

    Returns
    -------
    figure : matplotlib.figure.Figure
        2 × 2 axes sharing the time axis (``[0, longest duration]``): waveforms on top,
        spectrograms below, original on the left. The resynthesis titles carry
        :func:`~nsynth_widgets.metrics.spectral_distance` in dB.
    """
    original = _check_audio(original, "original")
    resynthesis = _check_audio(resynthesis, "resynthesis")
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    distance = spectral_distance(original, resynthesis, sample_rate)
    figure = Figure(figsize=(11, 6), layout="constrained")
    axes = figure.subplots(2, 2, sharex=True, sharey="row")
    suffix = f" (spectral distance {distance:.2f} dB)"
    for column, (audio, name, note) in enumerate([(original, "Original", ""), (resynthesis, "Resynthesis", suffix)]):
        plot_waveform(audio, sample_rate, ax=axes[0, column])
        plot_spectrogram(audio, sample_rate, ax=axes[1, column])
        axes[0, column].set_title(f"{name} waveform{note}")
        axes[1, column].set_title(f"{name} spectrogram{note}")
        axes[0, column].set_xlabel("")
    axes[0, 0].set_xlim(0.0, max(original.size, resynthesis.size) / sample_rate)
    return figure


def encoding_figure(audio, encoding, hop_length=HOP_LENGTH, sample_rate=SAMPLE_RATE, f0_channel=None):
    """A waveform above its encoding's channels, on one shared time axis.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], float
    encoding : np.ndarray [shape=(frames, channels) or (1, frames, channels)], float
    hop_length : int
        Samples per encoding frame.
    sample_rate : float
        Samples per second.
    f0_channel : int or None
        For a pitch-conditioned model (``ModelConfig.f0_channel``): the f0 and voicing channels
        (``f0_channel`` and the next) get a third axes of their own (:func:`plot_f0`), and the
        middle one shows the learned channels only.

    Returns
    -------
    figure : matplotlib.figure.Figure
        Two (three) axes sharing x, limits ``[0, max(n, frames * hop_length) / sample_rate]``.
    """
    audio = _check_audio(audio)
    encoding = _check_encoding(encoding)
    hop_length = check_integer("hop_length", hop_length, 1)
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    rows = 2 if f0_channel is None else 3
    figure = Figure(figsize=(10, 2.5 * rows), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True)
    wave_ax, enc_ax = axes[0], axes[1]
    plot_waveform(audio, sample_rate, ax=wave_ax)
    learned = encoding if f0_channel is None else encoding[:, :f0_channel]
    plot_encoding(learned, hop_length, sample_rate, ax=enc_ax)
    wave_ax.set_title("Waveform")
    wave_ax.set_xlabel("")
    if f0_channel is None:
        enc_ax.set_title(f"Encoding ({encoding.shape[1]} channels, {encoding.shape[0]} frames)")
    else:
        enc_ax.set_title(f"Learned channels ({learned.shape[1]} of {encoding.shape[1]}, {encoding.shape[0]} frames)")
        enc_ax.set_xlabel("")
        plot_f0(encoding[:, f0_channel : f0_channel + 2], hop_length, sample_rate, ax=axes[2])
        axes[2].set_title("Measured pitch channels: f0 (solid where voiced)")
    wave_ax.set_xlim(0.0, max(audio.size, encoding.shape[0] * hop_length) / sample_rate)
    return figure


def figure_to_png(fig, dpi=100):
    """Render a figure to PNG bytes (for ``ipywidgets.Image``); the figure stays open and usable.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : float
        Dots per inch.

    Returns
    -------
    png : bytes
    """
    if not isinstance(fig, Figure):
        raise ParameterError(f"`fig` must be a matplotlib Figure. Received: fig={describe(fig)}.")
    dpi = check_number("dpi", dpi, 0, low_open=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
