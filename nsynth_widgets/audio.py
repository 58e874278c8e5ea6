"""Load, check, save and serialise audio: everything the model sees is 16 kHz mono float32 in [-1, 1].

Files are decoded with ``soundfile`` (libsndfile: wav, flac, ogg/vorbis, mp3 and more) and resampled with
``soxr``. Only when libsndfile cannot decode a file does :func:`load_audio` fall back to ``audioread``
(ffmpeg), which also reads what a browser's microphone recorder gives (webm/opus, m4a).

Decoding is bounded before it starts: :func:`audio_info` reads a file's header only, and
:func:`load_audio` decodes only the requested region, block by block (mixing each block to mono
as it goes), after checking it against optional limits on duration, channels and sample rate. So
a small file that expands to hours of audio costs no more than the region asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import contextlib
import dataclasses
import io
import os
import pathlib
import tempfile
import warnings

import numpy as np
import soundfile as sf
import soxr

from ._files import atomic_path
from .dsp.framing import SAMPLE_RATE
from .errors import AudioError, ParameterError, check_bool, check_integer, check_number, describe

if TYPE_CHECKING:  # annotations only
    from ._types import AudioSource, PathLike

__all__ = [
    "AudioInfo",
    "audio_info",
    "load_audio",
    "validate_audio",
    "normalize",
    "pitch_shift",
    "save_audio",
    "to_wav_bytes",
    "duration_seconds",
]

_SILENCE_PEAK = 1e-6  # below this peak amplitude a signal counts as silent
_RANGE_TOLERANCE = 1e-4  # how far beyond [-1, 1] float rounding may reach before a signal is rejected
_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
_UNREADABLE = "`source` must be a readable audio file (wav, flac, ogg or mp3). Received: source={} (decoder said: {})."
_BLOCK_FRAMES = 1 << 16  # frames decoded per block: memory while decoding is one block plus the region kept


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds, from its header (nothing decoded).

    Attributes
    ----------
    frames : int or None
        Samples per channel at ``sample_rate``: for mp3 and the ffmpeg fallback, the decoder's
        estimate; None when the header does not say (e.g. a browser's webm recording).
    sample_rate : int
        The file's rate in Hz.
    channels : int
    format : str
        libsndfile's name of the format (``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"``, ...), or
        ``"FFMPEG"`` for a file only the fallback decoder reads.
    """

    frames: int | None
    sample_rate: int
    channels: int
    format: str

    @property
    def duration(self):
        """Length in seconds, or None when unknown."""
        return None if self.frames is None else self.frames / self.sample_rate

    @property
    def decoded_from_start(self):
        """True when reading a region also decodes everything before it into memory (mp3 in libsndfile)."""
        return self.format == "MP3"


def audio_info(source: AudioSource) -> AudioInfo:
    """Read an audio file's header: its length, rate and channels, without decoding its audio.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file object
        As for :func:`load_audio`.

    Returns
    -------
    info : AudioInfo

    Raises
    ------
    AudioError
        The file is missing, empty or not an audio file any decoder reads.
    """
    path, content = _resolve_source(source)
    try:
        with sf.SoundFile(path if content is None else io.BytesIO(content)) as sound:
            return AudioInfo(int(sound.frames), int(sound.samplerate), int(sound.channels), sound.format)
    except sf.SoundFileError as error:
        soundfile_error = error
    try:
        with _named_file(path, content) as name, _audioread_open(name) as reader:
            rate = int(reader.samplerate)
            frames = int(round(reader.duration * rate)) if reader.duration else None
            return AudioInfo(frames, rate, int(reader.channels), "FFMPEG")
    except Exception:  # audioread/ffmpeg fail in many ways; the first decoder's reason is the useful one
        raise _unreadable(source, soundfile_error) from soundfile_error


def load_audio(
    source: AudioSource,
    sample_rate: int = SAMPLE_RATE,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    max_duration: float | None = None,
    max_channels: int | None = None,
    max_sample_rate: float | None = None,
) -> np.ndarray:
    """Decode a region of an audio file into float32 samples at ``sample_rate``.

    Only the region ``[offset, offset + duration)`` is decoded, block by block; the limits are
    checked against the file's header before any audio is decoded (and again while decoding,
    so a header that understates the length cannot get past them).

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file object
        A path, the file's raw bytes (what an upload widget gives) or an object with ``read()``.
        wav (8/16/24/32-bit integer, 32/64-bit float), flac, ogg/vorbis and mp3 are read by libsndfile;
        other formats are tried with audioread (ffmpeg).
    sample_rate : int
        Rate of the returned samples in Hz; any file rate is resampled with soxr (high quality).
    mono : bool
        Average all channels into one. If False, every channel is kept.
    offset : float
        Start reading this many seconds into the file.
    duration : float or None
        Read at most this many seconds (None: to the end).
    max_duration : float or None
        Refuse a region longer than this many seconds (None: no limit). libsndfile decodes an mp3
        from its beginning (it cannot seek in one exactly), so for mp3 the limit applies to
        ``offset + duration``: what is decoded, not only what is kept.
    max_channels : int or None
        Refuse files with more channels than this (None: no limit).
    max_sample_rate : int or None
        Refuse files whose rate is above this many Hz (None: no limit).

    Returns
    -------
    audio : np.ndarray [shape=(n,) if mono else (channels, n)], float32
        Values in [-1, 1].

    Raises
    ------
    AudioError
        The file is missing, empty or unreadable, breaks a limit, or its audio is silent, contains
        NaN/Inf or lies outside [-1, 1].
    ParameterError
        An argument breaks its rule.
    """
    sample_rate = check_integer("sample_rate", sample_rate, 1)
    mono = check_bool("mono", mono)
    offset = check_number("offset", offset, 0)
    duration = check_number("duration", duration, 0, low_open=True, optional=True)
    limits = _Limits(
        check_number("max_duration", max_duration, 0, low_open=True, optional=True),
        check_integer("max_channels", max_channels, 1, optional=True),
        check_integer("max_sample_rate", max_sample_rate, 1, optional=True),
    )

    request = _Request(source, offset, duration, mono, limits)
    frames, file_rate = _decode(request)  # (n, channels, or 1 when mono) float32
    _check_audio(frames.T, "source", min_samples=1, allow_silence=False)
    n_file = frames.shape[0]
    if file_rate != sample_rate:
        frames = soxr.resample(frames, file_rate, sample_rate, quality="HQ")
    if frames.shape[0] == 0:
        raise AudioError(
            f"`source` must hold enough audio for one sample at sample_rate={sample_rate}. "
            f"Received: source with {n_file} samples at {file_rate} Hz."
        )
    audio = np.ascontiguousarray(frames.T, dtype=np.float32)
    np.clip(audio, -1.0, 1.0, out=audio)  # resampling may overshoot full-scale edges slightly
    return audio[0] if mono else audio


def validate_audio(audio, name="audio", min_samples=1, allow_silence=False, ndim=None):
    """Check that ``audio`` is usable by the model and return it as a float32 copy.

    The one validator of audio arrays: the model, the plots, the metrics and the widgets all
    call it, so a sound is accepted or refused for the same reasons everywhere.

    Parameters
    ----------
    audio : array-like [shape=(n,) or (batch, n)]
        Real numbers (float or integer).
    name : str
        Argument name used in error messages.
    min_samples : int
        Fewest samples each signal must have.
    allow_silence : bool
        Accept signals whose peak amplitude is below 1e-6.
    ndim : {None, 1, 2}
        Require one sound ``(n,)`` (1) or a batch ``(batch, n)`` (2); None accepts both.

    Returns
    -------
    audio : np.ndarray [shape=(n,) or (batch, n)], float32
        A new array (the input is never modified), clipped to [-1, 1] (values may exceed it by at most 1e-4).

    Raises
    ------
    AudioError
        Wrong dtype or shape, empty, too short, NaN/Inf, silent, or values outside [-1, 1].
    """
    min_samples = check_integer("min_samples", min_samples, 1)
    ndim = check_integer("ndim", ndim, 1, 2, optional=True)
    array = _check_audio(audio, name, min_samples, allow_silence, ndim)
    result = array.astype(np.float32)
    np.clip(result, -1.0, 1.0, out=result)
    return result


def normalize(audio, peak=0.99):
    """Scale ``audio`` so that its largest absolute value is ``peak``.

    Parameters
    ----------
    audio : array-like [shape=(n,) or (batch, n)]
        Any finite, non-silent signal, also one outside [-1, 1]. A batch is scaled by one common factor, so
        the relative levels of its signals are kept.
    peak : float
        Target peak amplitude in (0, 1].

    Returns
    -------
    normalized : np.ndarray [shape=(n,) or (batch, n)], float32
        A new array; the input is never modified.
    """
    peak = check_number("peak", peak, 0, 1, low_open=True)
    array = _check_array(audio, "audio", min_samples=1)
    current = _peak(array)
    if current < _SILENCE_PEAK:
        raise AudioError(
            f"`audio` must not be silent (peak amplitude below {_SILENCE_PEAK:g}) to be normalized. "
            f"Received: audio with peak {current:.3g}."
        )
    result = array.astype(np.float32)
    result *= np.float32(peak / current)
    return result


def pitch_shift(audio: np.ndarray, semitones: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The same sound a number of semitones higher or lower, same length (``librosa.effects.pitch_shift``).

    The route to another pitch for a model without pitch channels (the published one): shift the
    audio, then encode it. A pitch-conditioned model transposes an encoding directly
    (``NSynth.transpose``), which keeps the timbre of the original recording.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (batch, n)], float in [-1, 1]
    semitones : float
        Finite, within ±48.
    sample_rate : int

    Returns
    -------
    shifted : np.ndarray [shape=(n,) or (batch, n)], float32 in [-1, 1]
    """
    import librosa

    semitones = check_number("semitones", semitones, -48, 48)
    sample_rate = check_integer("sample_rate", sample_rate, 1)
    array = validate_audio(audio, allow_silence=True)
    n_fft = int(min(2048, 2 ** np.floor(np.log2(max(array.shape[-1], 16)))))  # short sounds: a shorter window
    shifted = librosa.effects.pitch_shift(array, sr=sample_rate, n_steps=semitones, n_fft=n_fft)
    return np.clip(shifted, -1.0, 1.0).astype(np.float32)


def save_audio(
    path: PathLike, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, subtype: str = "PCM_16"
) -> pathlib.Path:
    """Write one sound to a wav or flac file, atomically.

    The data go to a temporary file in the same folder, which then replaces ``path``: an interrupted or failed
    write never leaves a half-written file behind.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.wav`` or ``.flac``, which chooses the format.
    audio : array-like [shape=(n,) or (1, n)]
        Values in [-1, 1]; silence is allowed.
    sample_rate : int
        Sample rate written in the header, in Hz.
    subtype : str
        A libsndfile subtype the format supports, e.g. ``"PCM_16"`` (default), ``"PCM_24"``, ``"FLOAT"`` (wav only).

    Returns
    -------
    path : pathlib.Path
        The file written.
    """
    path = os.fspath(path)
    file_format = _WRITE_FORMATS.get(os.path.splitext(path)[1].lower())
    if file_format is None:
        raise ParameterError(f"`path` must end in .wav or .flac. Received: path={path!r}.")
    if not isinstance(subtype, str) or not sf.check_format(file_format, subtype.upper()):
        raise ParameterError(
            f"`subtype` must be a subtype that {file_format} supports, e.g. 'PCM_16' or 'PCM_24'. "
            f"Received: subtype={describe(subtype)}."
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ParameterError(f"`path` must be in an existing folder. Received: path={path!r}.")
    samples = _one_sound(audio, sample_rate)

    with atomic_path(path) as temporary:
        sf.write(temporary, samples, sample_rate, format=file_format, subtype=subtype.upper())
    return pathlib.Path(path)


def to_wav_bytes(audio, sample_rate=SAMPLE_RATE):
    """Encode one sound as a 16-bit PCM wav file in memory, e.g. for ``ipywidgets.Audio(value=...)``.

    Parameters
    ----------
    audio : array-like [shape=(n,) or (1, n)]
        Values in [-1, 1]; silence is allowed.
    sample_rate : int

    Returns
    -------
    wav : bytes
    """
    samples = _one_sound(audio, sample_rate)
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def duration_seconds(n_samples, sample_rate=SAMPLE_RATE):
    """Length in seconds of ``n_samples`` samples at ``sample_rate`` Hz."""
    return check_integer("n_samples", n_samples, 0) / check_integer("sample_rate", sample_rate, 1)


# ----------------------------------------------------------------------------------------------- decoding


@dataclasses.dataclass(frozen=True)
class _Limits:
    duration: float | None = None
    channels: int | None = None
    sample_rate: int | None = None


@dataclasses.dataclass(frozen=True)
class _Request:
    source: object
    offset: float
    duration: float
    mono: bool
    limits: _Limits


def _decode(request):
    """Read the requested region of the source as ``(frames (n, channels) float32, file_rate)``."""
    path, content = _resolve_source(request.source)
    try:
        sound = sf.SoundFile(path if content is None else io.BytesIO(content))
    except sf.SoundFileError as error:
        soundfile_error = error
    else:
        with sound:
            try:
                return _read_soundfile(sound, request)
            except sf.SoundFileError as error:  # libsndfile knows the format: the file itself is broken
                reason = getattr(error, "error_string", str(error)).rstrip(".")
                raise AudioError(
                    f"`source` must be a complete, uncorrupted {sound.format.lower()} file; nothing was loaded. "
                    f"Received: source={_describe_source(request.source)} (decoder said: {reason})."
                ) from error
    try:
        with _named_file(path, content) as name, _audioread_open(name) as reader:
            return _read_audioread(reader, request)
    except ParameterError:
        raise
    except Exception:  # audioread/ffmpeg fail in many ways; the first decoder's reason is the useful one
        raise _unreadable(request.source, soundfile_error) from soundfile_error


def _resolve_source(source):
    """Return ``(path, None)`` for a file on disk or ``(None, content_bytes)`` for in-memory data."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
    elif hasattr(source, "read"):
        content = source.read()
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise ParameterError(
                f"`source` must be opened in binary mode ('rb'), so that read() returns bytes. "
                f"Received: source={describe(source)}."
            )
        content = bytes(content)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise AudioError(f"`source` must be an existing audio file. Received: source={path!r} (no such file).")
        if os.path.isdir(path):
            raise AudioError(f"`source` must be an audio file, not a folder. Received: source={path!r}.")
        if os.path.getsize(path) == 0:
            raise AudioError(_UNREADABLE.format(_describe_source(path), "the file is empty"))
        return path, None
    else:
        raise ParameterError(
            "`source` must be a file path, the file's bytes or a binary file object. "
            f"Received: source={describe(source)}."
        )
    if not content:
        raise AudioError(_UNREADABLE.format(_describe_source(source), "the file is empty"))
    return None, content


def _unreadable(source, soundfile_error):
    reason = getattr(soundfile_error, "error_string", str(soundfile_error)).rstrip(".")
    return AudioError(_UNREADABLE.format(_describe_source(source), reason))


@contextlib.contextmanager
def _named_file(path, content):
    """``path``, or ``content`` spooled to a temporary file (audioread/ffmpeg only read named files)."""
    if content is None:
        yield path
        return
    with tempfile.TemporaryDirectory() as folder:
        spooled = os.path.join(folder, "upload")
        with open(spooled, "wb") as file:
            file.write(content)
        yield spooled


def _audioread_open(path):
    import audioread  # only when libsndfile could not decode the file

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # audioread imports aifc, audioop, sunau
        return audioread.audio_open(path)


def _check_format(request, info):
    """Refuse, from the header alone, a file with too many channels or too high a rate."""
    limits, source = request.limits, _describe_source(request.source)
    if limits.channels is not None and info.channels > limits.channels:
        raise AudioError(
            f"`source` must have at most {limits.channels} channels (`max_channels`). "
            f"Received: source={source} with {info.channels} channels."
        )
    if limits.sample_rate is not None and info.sample_rate > limits.sample_rate:
        raise AudioError(
            f"`source` must have a sample rate of at most {limits.sample_rate} Hz (`max_sample_rate`). "
            f"Received: source={source} at {info.sample_rate} Hz."
        )


def _check_region(request, info):
    """The region ``(start, stop)`` in frames, from a header that gives the length; refuse one over the limit."""
    start, stop = _region(request.offset, request.duration, info.sample_rate, info.frames)
    limit = request.limits.duration
    if limit is not None:
        if info.decoded_from_start and stop > _limit_frames(limit, info.sample_rate):
            raise AudioError(
                f"`offset` + `duration` must be at most {limit:g} s for an mp3 (`max_duration`: libsndfile "
                "decodes an mp3 from its beginning); convert it to wav, flac or ogg to read a later part. "
                f"Received: source={_describe_source(request.source)} of {info.duration:.2f} s, region ending at "
                f"{stop / info.sample_rate:.2f} s."
            )
        if stop - start > _limit_frames(limit, info.sample_rate):
            raise _too_long(request, f"{(stop - start) / info.sample_rate:.2f} s")
    return start, stop


def _limit_frames(seconds, rate):
    return int(round(seconds * rate))


def _too_long(request, length):
    """The refusal of a region over ``max_duration``; ``length`` says how long it is (e.g. ``"61.00 s"``)."""
    return AudioError(
        f"`source` must hold at most {request.limits.duration:g} s from `offset` (`max_duration`); pass a shorter "
        f"`duration`. Received: source={_describe_source(request.source)} with {length} from offset "
        f"{request.offset:g} s."
    )


def _read_soundfile(sound, request):
    info = AudioInfo(int(sound.frames), int(sound.samplerate), int(sound.channels), sound.format)
    _check_format(request, info)
    start, stop = _check_region(request, info)
    if info.decoded_from_start:
        # libsndfile's mp3 decoder returns wrong samples after a seek or after a partial read:
        # decode everything up to the region's end in one read (bounded by the check above).
        frames = sound.read(stop, dtype="float32", always_2d=True)[start:]
        return (frames.mean(axis=1, keepdims=True) if request.mono else frames), info.sample_rate
    sound.seek(start)
    blocks = []
    left = stop - start
    while left > 0:  # the header's length bounds the reads, so a file cannot expand past it
        block = sound.read(min(left, _BLOCK_FRAMES), dtype="float32", always_2d=True)
        if not len(block):
            break
        blocks.append(block.mean(axis=1, keepdims=True) if request.mono else block)
        left -= len(block)
    return _joined(blocks, 1 if request.mono else info.channels), info.sample_rate


def _read_audioread(reader, request):
    """Stream ffmpeg's 16-bit blocks, keeping only the region and counting it against the limit.

    ffmpeg decodes from the start; its header length is an estimate (absent for a browser's
    webm recording), so the limit is enforced on the samples as they arrive.
    """
    rate, channels = int(reader.samplerate), int(reader.channels)
    _check_format(request, AudioInfo(None, rate, channels, "FFMPEG"))
    start = int(request.offset * rate)
    stop = None if request.duration is None else start + _limit_frames(request.duration, rate)
    cap = None if request.limits.duration is None else _limit_frames(request.limits.duration, rate)
    blocks, position, kept = [], 0, 0
    for buffer in reader:
        block = np.frombuffer(buffer, dtype="<i2").reshape(-1, channels)
        first, position = position, position + len(block)
        block = block[max(0, start - first) : None if stop is None else max(0, stop - first)]
        if len(block):
            blocks.append(_to_float(block, request.mono))
            kept += len(block)
            if cap is not None and kept > cap:
                raise _too_long(request, f"more than {request.limits.duration:g} s")  # decoding stops here
        if stop is not None and position >= stop:
            break
    if request.offset > 0 and position <= start:
        raise ParameterError(
            f"`offset` must be less than the audio's duration ({position / rate:.3f} s). "
            f"Received: offset={request.offset!r}."
        )
    return _joined(blocks, 1 if request.mono else channels), rate


def _to_float(block, mono):
    block = block.astype(np.float32) / np.float32(32768)
    return block.mean(axis=1, keepdims=True) if mono else block


def _joined(blocks, channels):
    return np.concatenate(blocks) if blocks else np.zeros((0, channels), np.float32)


def _region(offset, duration, rate, total):
    """First and one-past-last frame of the region ``[offset, offset + duration)`` seconds."""
    start = int(offset * rate)
    if offset > 0 and start >= total:
        raise ParameterError(
            f"`offset` must be less than the audio's duration ({total / rate:.3f} s). Received: offset={offset!r}."
        )
    if duration is None:
        return start, total
    return start, min(total, start + int(round(duration * rate)))


def _describe_source(source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
        return f"<{len(content)} bytes: {content[:8]!r}...>" if content else "<0 bytes>"
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))  # the whole path: it is what the user needs to see
    return describe(source)


# ----------------------------------------------------------------------------------------------- checks


_SHAPES = {None: "(n,) or (batch, n)", 1: "(n,) (one mono sound)", 2: "(batch, n)"}


def _check_array(audio, name, min_samples, ndim=None):
    """Shape, dtype, length and finiteness checks; returns ``audio`` as an array without copying it."""
    try:
        array = np.asarray(audio)
    except (TypeError, ValueError) as error:
        raise AudioError(f"`{name}` must be an array of real numbers. Received: {name}={describe(audio)}.") from error
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise AudioError(
            f"`{name}` must be an array of real numbers (float or integer). Received: {name}={describe(array)}."
        )
    if array.ndim not in ((1, 2) if ndim is None else (ndim,)):
        raise AudioError(f"`{name}` must have shape {_SHAPES[ndim]}. Received: {name}={describe(array)}.")
    if array.size == 0:
        raise AudioError(f"`{name}` must not be empty. Received: {name}={describe(array)}.")
    if array.shape[-1] < min_samples:
        raise AudioError(
            f"`{name}` must have at least {min_samples} samples. Received: {name} with {array.shape[-1]} samples."
        )
    if np.issubdtype(array.dtype, np.floating) and not (np.isfinite(array.min()) and np.isfinite(array.max())):
        bad = ~np.isfinite(array)
        n_nan = int(np.isnan(array).sum())
        raise AudioError(
            f"`{name}` must not contain NaN or Inf. Received: {name} with {int(bad.sum())} non-finite values "
            f"({n_nan} NaN, {int(bad.sum()) - n_nan} Inf), the first at {_index_text(np.argmax(bad), array.shape)}."
        )
    return array


def _check_audio(audio, name, min_samples, allow_silence, ndim=None):
    """All checks of :func:`validate_audio`; returns ``audio`` as an array without copying it."""
    array = _check_array(audio, name, min_samples, ndim)
    peak = _peak(array)
    if peak < _SILENCE_PEAK and not allow_silence:
        raise AudioError(
            f"`{name}` must not be silent (peak amplitude below {_SILENCE_PEAK:g}). "
            f"Received: {name} with peak {peak:.3g}."
        )
    if peak > 1 + _RANGE_TOLERANCE:
        where = _index_text(np.argmax(np.abs(array.astype(np.float64))), array.shape)
        raise AudioError(
            f"`{name}` must lie in [-1, 1]. Received: {name} with peak |x| = {peak:.4g} at {where}; "
            "scale it with `nsynth_widgets.audio.normalize` or clip it with `np.clip(..., -1, 1)`."
        )
    return array


def _one_sound(audio, sample_rate):
    """Validate a single sound for writing: shape (n,) or (1, n) → float32 (n,)."""
    check_integer("sample_rate", sample_rate, 1)
    samples = validate_audio(audio, allow_silence=True)
    if samples.ndim == 2:
        if samples.shape[0] != 1:
            raise AudioError(
                "`audio` must hold one sound, shape (n,) or (1, n); write a batch one sound at a time "
                f"(e.g. audio[0]). Received: audio with shape {samples.shape}."
            )
        samples = samples[0]
    return samples


def _peak(array):
    """Largest absolute value, without temporaries (and without integer overflow of ``abs``)."""
    return max(float(array.max()), -float(array.min()))


def _index_text(flat_index, shape):
    index = np.unravel_index(int(flat_index), shape)
    return f"index {int(index[0])}" if len(shape) == 1 else f"index {tuple(int(i) for i in index)}"
