"""`MixPanel`: morph between two sounds in latent space, and hear how a plain crossfade differs.

The latent mix interpolates the two encodings (``(1 - w) * A + w * B``), optionally stretches
it in time, and lets the decoder synthesize a new sound from it. The crossfade mixes the two
waveforms instead: two instruments playing at once rather than one in between.
"""

import ipywidgets

from ..dsp.mix import crossfade, interpolate, time_stretch, with_pitch_of
from ..errors import ParameterError, check_choice, check_number
from ._common import BUSY, CHUNK_SIZE, Panel, SynthesisJob, audio_player, wav
from ..dsp.framing import SAMPLE_RATE
from .session import MAX_NAME_LENGTH, MAX_SAMPLES

__all__ = ["MixPanel", "STRETCH_RANGE"]

#: Time-stretch factors a visitor may choose.
STRETCH_RANGE = (0.25, 4.0)


class MixPanel(Panel):
    """Latent mix of two sounds (with time stretch) versus their audio crossfade.

    Parameters
    ----------
    session : Session
    run_in_thread : bool
        Synthesize in a background thread (False: right away, as tests do).

    Attributes
    ----------
    sound_a, sound_b : ipywidgets.Dropdown
        The two sources (names with a sound or an encoding).
    weight : ipywidgets.FloatSlider
        0 is all A, 1 is all B.
    crossfade : ipywidgets.Checkbox
        Show :attr:`crossfade_player`: the plain audio mix at the same weight (needs two sounds).
    crossfade_player : ipywidgets.Audio
    stretch : ipywidgets.FloatSlider
        Time-stretch factor of the latent mix (2 = twice as long).
    pitch : ipywidgets.ToggleButtons
        Models with pitch channels (the embedded one): the mix plays at A's pitch, B's, or in
        between (the f0 channels mixed like the rest, a glide in log-frequency as the weight moves).
    synthesize_button : ipywidgets.Button
    job : SynthesisJob
    result_player : ipywidgets.Audio
    result : np.ndarray [shape=(n,)] or None
        The latest synthesized mix.
    keep_button : ipywidgets.Button
        Add :attr:`result` to the session's sounds.
    error, message : ipywidgets.HTML
    """

    def __init__(self, session, run_in_thread=True):
        self._setup(session, run_in_thread)
        self.sound_a = ipywidgets.Dropdown(description="A")
        self.sound_b = ipywidgets.Dropdown(description="B")
        self.weight = ipywidgets.FloatSlider(
            0.5, min=0.0, max=1.0, step=0.05, description="A → B", continuous_update=False
        )
        self.crossfade = ipywidgets.Checkbox(False, description="hear the plain audio crossfade")
        self.crossfade_player = audio_player()
        self.crossfade_player.layout.display = "none"
        self.stretch = ipywidgets.FloatSlider(
            1.0, min=STRETCH_RANGE[0], max=STRETCH_RANGE[1], step=0.05, description="stretch ×", continuous_update=False
        )
        self.pitch = ipywidgets.ToggleButtons(
            options=[("in between", "mix"), ("A's", "a"), ("B's", "b")],
            value="mix",
            description="pitch",
            tooltips=["the f0 channels mixed at the same weight", "keep A's pitch", "keep B's pitch"],
        )
        self.synthesize_button = ipywidgets.Button(description="Synthesize mix", button_style="primary", icon="play")
        self.job = SynthesisJob(run_in_thread, show_partial=True)
        self.result_player = audio_player()
        self.keep_button = ipywidgets.Button(description="Add to sounds", icon="plus", disabled=True)
        self.result = None
        self._result_name = None
        super().__init__(
            [
                ipywidgets.HTML("<b>Mix</b>: interpolate two encodings, or crossfade the two sounds to compare"),
                ipywidgets.HBox([self.sound_a, self.sound_b]),
                ipywidgets.HBox([self.weight, self.crossfade]),
                self.crossfade_player,
                self.stretch,
                self.pitch,
                self.synthesize_button,
                self.job,
                self.error,
                self.message,
                ipywidgets.HBox([ipywidgets.Label("Latent mix"), self.result_player, self.keep_button]),
            ]
        )
        self.synthesize_button.on_click(self._guarded(lambda _: self._start()))
        self.keep_button.on_click(self._guarded(lambda _: self._keep()))
        for control in (self.sound_a, self.sound_b, self.weight, self.crossfade):
            control.observe(self._guarded(lambda _: self._update_crossfade()), names="value")
        self.session.observe(self._guarded(lambda _: self._names_changed()), names=["sounds", "encodings"])
        self.session.observe(self._guarded(lambda _: self._show_pitch()), names="synthesizer")
        self._names_changed()
        self._show_pitch()

    def wait(self, timeout=None):
        """Block until a running synthesis has finished."""
        self.job.wait(timeout)

    def _sources(self):
        names = self.session.names()
        return check_choice("sound_a", self.sound_a.value, names), check_choice("sound_b", self.sound_b.value, names)

    def _start(self):
        a, b = self._sources()
        weight = check_number("weight", self.weight.value, 0.0, 1.0)
        factor = check_number("stretch", self.stretch.value, *STRETCH_RANGE)
        pitch = check_choice("pitch", self.pitch.value, ("mix", "a", "b"))
        synthesizer = self.session.synthesizer
        if not synthesizer.pitch_conditioned:
            pitch = "mix"
        name = (
            f"mix {a[:30]}+{b[:30]} {weight:.2f}"
            + (f" ×{factor:.2f}" if factor != 1.0 else "")
            + ("" if pitch == "mix" else f" at {pitch.upper()}'s pitch")
        )

        def work(progress, cancel):
            encodings = self.session.encode([a, b])
            mixed = interpolate(encodings[a], encodings[b], weight)
            if pitch != "mix":
                mixed = with_pitch_of(mixed, encodings[a if pitch == "a" else b], synthesizer.config.f0_channel)
            mixed = time_stretch(mixed, factor)
            samples = mixed.shape[1] * self.session.synthesizer.config.hop_length
            if samples > MAX_SAMPLES:
                raise ParameterError(
                    f"`stretch` must keep the mix at most {MAX_SAMPLES // SAMPLE_RATE} s long. "
                    f"Received: stretch={factor} ({samples / SAMPLE_RATE:.1f} s)."
                )
            return self.session.synthesizer.synthesize(
                mixed,
                seed=0,
                chunk_size=CHUNK_SIZE,
                progress=progress,
                cancel=cancel,
                precision=self.session.precision,
            )

        def done(audio):
            self.result, self._result_name = audio[0], name[:MAX_NAME_LENGTH]
            self.result_player.value = wav(self.result)
            self.keep_button.disabled = False
            self._ok(f"Synthesized '{self._result_name}': {audio.shape[1] / SAMPLE_RATE:.2f} s.")

        def cancelled(partial):
            self._ok(f"Stopped after {partial.shape[1]} samples: the partial mix is in the player above.")

        if not self.job.start(work, done, cancelled, self._fail):
            self._fail(BUSY)

    def _show_pitch(self):
        """The pitch choice is for models with pitch channels only."""
        self.pitch.layout.display = None if self.session.synthesizer.pitch_conditioned else "none"

    def _keep(self):
        if self.result is None:
            raise ParameterError("`result` must exist before it is kept: press Synthesize mix. Received: result=None.")
        name = self.session.add_sound(self._result_name, self.result)
        self._ok(f"Added '{name}' to the sounds.")

    def _names_changed(self):
        names = self.session.names()
        self._set_options(self.sound_a, names)
        self._set_options(self.sound_b, names)
        if self.sound_b.value == self.sound_a.value and len(names) > 1:
            with self._quietly():
                self.sound_b.value = next(n for n in names if n != self.sound_a.value)
        self._update_crossfade()

    def _update_crossfade(self):
        if self._quiet:
            return
        self.crossfade_player.layout.display = None if self.crossfade.value else "none"
        if not self.crossfade.value:
            return
        a, b = self._sources()
        if a not in self.session.sounds or b not in self.session.sounds:
            self.crossfade_player.value = b""
            raise ParameterError(
                "`sound_a` and `sound_b` must both be loaded sounds (not encodings only) to crossfade. "
                f"Received: sound_a={a!r}, sound_b={b!r}."
            )
        weight = check_number("weight", self.weight.value, 0.0, 1.0)
        self.crossfade_player.value = wav(crossfade(self.session.sounds[a], self.session.sounds[b], weight))
