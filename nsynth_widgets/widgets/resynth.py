"""`ResynthPanel`: regenerate a sound from its encoding, with progress, Stop and partial audio.

The WaveNet decoder generates sample by sample in chunks of
:data:`~nsynth_widgets.widgets._common.CHUNK_SIZE`; between chunks the progress bar moves, the
Stop button is honoured and, every few chunks, the audio so far becomes playable. The result is
shown beside the original: two players, waveforms and spectrograms, and a spectral distance.
"""

import ipywidgets

from ..metrics import spectral_distance
from ..plotting import compare_figure, figure_to_png
from ._common import BUSY, CHUNK_SIZE, Panel, SynthesisJob, audio_player, png_image, wav
from ..dsp.framing import SAMPLE_RATE
from ..errors import check_choice, check_integer, check_number

__all__ = ["ResynthPanel", "TEMPERATURE_RANGE", "MAX_SEED", "TRANSPOSE_RANGE"]

#: Softmax temperatures a visitor may choose.
TEMPERATURE_RANGE = (0.05, 2.0)
#: Transpositions (semitones) a visitor may choose; a pitch-conditioned model also needs the
#: pitch to stay within its range (:data:`nsynth_widgets.dsp.pitch.TRANSPOSE_RANGE`).
TRANSPOSE_RANGE = (-24.0, 24.0)
#: Largest sampling seed.
MAX_SEED = 2**31 - 1


def _check_settings(seed, temperature):
    return (
        check_integer("seed", seed, 0, MAX_SEED),
        check_number("temperature", temperature, *TEMPERATURE_RANGE),
    )


class ResynthPanel(Panel):
    """Resynthesize one encoding and compare it with the original sound.

    Parameters
    ----------
    session : Session
    run_in_thread : bool
        Synthesize in a background thread (False: right away, as tests do).

    Attributes
    ----------
    sound : ipywidgets.Dropdown
        A name with a sound (encoded first if needed) or a loaded encoding.
    seed, temperature : ipywidgets.BoundedIntText, ipywidgets.FloatSlider
        Sampling settings (validated when the button is pressed); the temperature starts at the
        model's default (:attr:`~nsynth_widgets.runtime.Synthesizer.default_temperature`) and follows a
        model change.
    transpose : ipywidgets.FloatSlider
        Semitones to play the sound higher (negative: lower); shown for models with pitch
        channels only (the embedded model), 0 otherwise.
    synthesize_button : ipywidgets.Button
    job : SynthesisJob
        Progress bar, time estimate, Stop button and partial-audio player.
    original_player, result_player : ipywidgets.Audio
    compare_image : ipywidgets.Image
        :func:`~nsynth_widgets.plotting.compare_figure` as PNG.
    distance : ipywidgets.HTML
        The spectral distance between original and resynthesis.
    distance_db : float or None
        The same number.
    error, message : ipywidgets.HTML
    """

    def __init__(self, session, run_in_thread=True):
        self._setup(session, run_in_thread)
        self.sound = ipywidgets.Dropdown(description="sound")
        self.seed = ipywidgets.BoundedIntText(0, min=0, max=MAX_SEED, description="seed")
        self.temperature = ipywidgets.FloatSlider(
            session.synthesizer.default_temperature,
            min=TEMPERATURE_RANGE[0],
            max=TEMPERATURE_RANGE[1],
            step=0.05,
            description="temperature",
            continuous_update=False,
            tooltip="sampling temperature; a model with pitch channels samples its voiced frames at it and its "
            "unvoiced ones at its own unvoiced temperature",
        )
        self.transpose = ipywidgets.FloatSlider(
            0.0,
            min=TRANSPOSE_RANGE[0],
            max=TRANSPOSE_RANGE[1],
            step=0.5,
            description="transpose",
            continuous_update=False,
            readout_format="+.1f",
        )
        self.synthesize_button = ipywidgets.Button(description="Resynthesize", button_style="primary", icon="play")
        self.job = SynthesisJob(run_in_thread, show_partial=True)
        self.original_player = audio_player()
        self.result_player = audio_player()
        self.compare_image = png_image()
        self.distance = ipywidgets.HTML()
        self.distance_db = None
        self._compared = (None, None)  # (original, result) of the image on show
        super().__init__(
            [
                ipywidgets.HTML("<b>Resynthesize</b>: the WaveNet decoder regenerates the sound from its encoding"),
                ipywidgets.HBox([self.sound, self.seed, self.temperature]),
                self.transpose,
                self.synthesize_button,
                self.job,
                self.error,
                self.message,
                ipywidgets.HBox(
                    [
                        ipywidgets.VBox([ipywidgets.Label("Original"), self.original_player]),
                        ipywidgets.VBox([ipywidgets.Label("Resynthesis"), self.result_player]),
                    ]
                ),
                self.distance,
                self.compare_image,
            ]
        )
        self.synthesize_button.on_click(self._guarded(lambda _: self._start()))
        self.sound.observe(self._guarded(lambda _: self._show_result()), names="value")
        self.session.observe(self._guarded(lambda _: self._names_changed()), names=["sounds", "encodings"])
        self.session.observe(self._guarded(lambda _: self._follow_selection(self.sound)), names="selected")
        self.session.observe(self._guarded(lambda _: self._show_result()), names="resyntheses")
        self.session.observe(self._guarded(lambda _: self._model_changed()), names="synthesizer")
        self._names_changed()
        self._follow_selection(self.sound)
        self._show_transpose()

    def wait(self, timeout=None):
        """Block until a running synthesis has finished."""
        self.job.wait(timeout)

    def _start(self):
        name = check_choice("sound", self.sound.value, self.session.names())
        seed, temperature = _check_settings(self.seed.value, self.temperature.value)
        semitones = check_number("transpose", self.transpose.value, *TRANSPOSE_RANGE)
        precision = self.session.precision

        def work(progress, cancel):
            encoding = self.session.encode([name])[name]
            if semitones:
                encoding = self.session.synthesizer.transpose(encoding, semitones)
            return self.session.synthesizer.synthesize(
                encoding,
                seed=seed,
                temperature=temperature,
                chunk_size=CHUNK_SIZE,
                progress=progress,
                cancel=cancel,
                precision=precision,
            )

        def done(audio):
            self.session.set_resynthesis(name, audio[0])
            moved = f", transposed by {semitones:+g} semitones" if semitones else ""
            self._ok(f"Resynthesized '{name}'{moved}: {audio.shape[1]} samples ({audio.shape[1] / SAMPLE_RATE:.2f} s).")

        def cancelled(partial):
            self._ok(f"Stopped after {partial.shape[1]} samples: the partial audio is in the player above.")

        if not self.job.start(work, done, cancelled, self._fail):
            self._fail(BUSY)

    def _model_changed(self):
        self.temperature.value = self.session.synthesizer.default_temperature
        self._show_transpose()

    def _show_transpose(self):
        """The transpose slider is for models with pitch channels; others resynthesize at the sound's pitch."""
        pitched = self.session.synthesizer.pitch_conditioned
        self.transpose.layout.display = None if pitched else "none"
        if not pitched:
            self.transpose.value = 0.0

    def _names_changed(self):
        self._set_options(self.sound, self.session.names())
        self._show_result()

    def _show_result(self):
        if self._quiet:
            return
        original = self.session.sounds.get(self.sound.value)
        result = self.session.resyntheses.get(self.sound.value)
        if self._compared[0] is original and self._compared[1] is result:
            return
        self._compared = (original, result)
        self.original_player.value = b"" if original is None else wav(original)
        self.result_player.value = b"" if result is None else wav(result)
        if original is None or result is None:
            self.compare_image.value = b""
            self.distance_db = None
            self.distance.value = ""
            return
        self.distance_db = spectral_distance(original, result, SAMPLE_RATE)
        self.distance.value = (
            f"Spectral distance original ↔ resynthesis: <b>{self.distance_db:.2f} dB</b> (lower is closer)"
        )
        self.compare_image.value = figure_to_png(compare_figure(original, result, SAMPLE_RATE), dpi=70)
