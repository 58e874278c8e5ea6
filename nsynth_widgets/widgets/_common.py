"""Pieces every panel uses: message lines, background work, option lists, the synthesis job.

Errors raised on purpose (:class:`~nsynth_widgets.errors.NSynthWidgetsError`) are shown as
they are; anything else is logged with its traceback and shown as one short line, so a
visitor never sees a traceback.
"""

import contextlib
import html
import logging
import threading
import time

import ipywidgets

from ..audio import to_wav_bytes
from ..errors import NSynthWidgetsError, ParameterError, SynthesisCancelled, check_bool, describe
from ..dsp.framing import SAMPLE_RATE
from .session import Session

_LOG = logging.getLogger("nsynth_widgets.widgets")

#: Samples generated per compiled call: progress, Stop and partial audio act between chunks.
CHUNK_SIZE = 2048
#: The partial-audio player is refreshed every this many chunks.
PARTIAL_EVERY = 4
#: Shown when a second synthesis is asked for while one runs.
BUSY = "A synthesis is already running: wait for it to end or press Stop."


def error_text(error):
    """The one line a visitor sees for ``error`` (a message or an exception)."""
    if isinstance(error, str):
        return error
    if isinstance(error, NSynthWidgetsError):
        return str(error)
    _LOG.error("unexpected error in a widget", exc_info=error)
    return f"Something went wrong ({type(error).__name__}); the details are in the server log."


def error_html(text):
    """``text`` escaped, in red (empty text: nothing)."""
    return f'<span class="nw-error" style="color:#b00020">{html.escape(text)}</span>' if text else ""


def message_html(text):
    """``text`` escaped, in green (empty text: nothing)."""
    return f'<span class="nw-message" style="color:#1b5e20">{html.escape(text)}</span>' if text else ""


def png_image():
    """An ``ipywidgets.Image`` for PNG bytes that is hidden while empty (no broken-image icon)."""
    image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(display="none"))

    def show_when_set(change):
        image.layout.display = None if change["new"] else "none"

    image.observe(show_when_set, names="value")
    return image


def audio_player():
    """An ``ipywidgets.Audio`` for wav bytes that neither starts nor loops by itself."""
    return ipywidgets.Audio(format="wav", autoplay=False, loop=False)


def wav(audio):
    """``(n,)`` float audio in [-1, 1] → wav bytes at the session rate."""
    return to_wav_bytes(audio, SAMPLE_RATE)


def run_task(work, run_in_thread):
    """Run ``work()`` now, or in a daemon thread (returned) so the kernel keeps answering."""
    if not run_in_thread:
        work()
        return None
    thread = threading.Thread(target=work, daemon=True, name="nsynth-widgets")
    thread.start()
    return thread


class Panel(ipywidgets.VBox):
    """Base of the panels: a session, an error line, a message line, guarded (threaded) actions.

    Subclasses call :meth:`_setup` first, build their controls, then ``super().__init__(children)``
    with :attr:`error` and :attr:`message` among the children.
    """

    def _setup(self, session, run_in_thread):
        if not isinstance(session, Session):
            raise ParameterError(f"`session` must be a nsynth_widgets Session. Received: session={describe(session)}.")
        self.session = session
        self.run_in_thread = check_bool("run_in_thread", run_in_thread)
        self.error = ipywidgets.HTML()
        self.message = ipywidgets.HTML()
        self._thread = None
        self._quiet = False

    def wait(self, timeout=None):
        """Block until the panel's background work has finished (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # -- messages ------------------------------------------------------------------------------
    def _ok(self, text):
        self.error.value = ""
        self.message.value = message_html(text)
        self.session.error = ""
        self.session.status = text

    def _fail(self, error):
        text = error_text(error)
        self.error.value = error_html(text)
        self.session.error = text

    def _guarded(self, action):
        """``action`` wrapped so that any exception it raises becomes the error line."""

        def run(*args):
            try:
                action(*args)
            except Exception as error:  # every failure must reach the visitor as a message
                self._fail(error)

        return run

    def _run(self, action):
        """Run ``action()`` guarded, in a thread if the panel runs in threads; refuse while busy."""
        if self._thread is not None and self._thread.is_alive():
            self._fail("The previous action is still running: wait for it to finish.")
            return
        self._thread = run_task(self._guarded(action), self.run_in_thread)

    # -- option lists --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _quietly(self):
        """Within this block, value observers that check ``self._quiet`` do nothing."""
        self._quiet, before = True, self._quiet
        try:
            yield
        finally:
            self._quiet = before

    def _set_options(self, widget, names):
        """Offer ``names`` in a selection widget, keeping its choice if still offered.

        A Dropdown with no choice yet takes the first name; observers see no intermediate values.
        """
        names = tuple(names)
        old = widget.value
        with self._quietly():
            widget.options = names
            if isinstance(old, tuple):
                widget.value = tuple(name for name in old if name in names)
            elif old in names:
                widget.value = old
            elif names:
                widget.value = names[0]

    def _follow_selection(self, widget):
        """Show the session's latest selected sound in ``widget`` when it offers it."""
        if self.session.current in widget.options:
            widget.value = self.session.current


class SynthesisJob(ipywidgets.VBox):
    """Progress bar, time estimate, Stop button and partial-audio player for one synthesis at a time.

    Parameters
    ----------
    run_in_thread : bool
        Run the work in a daemon thread (the kernel stays responsive) or right away.
    show_partial : bool
        Show :attr:`partial_player` and refresh it every :data:`PARTIAL_EVERY` chunks.

    Attributes
    ----------
    progress : ipywidgets.IntProgress
        ``value`` samples done of ``max``.
    time_label : ipywidgets.HTML
        Elapsed and estimated remaining time.
    stop_button : ipywidgets.Button
        Enabled while a job runs; stops it between two chunks.
    partial_player : ipywidgets.Audio
        The audio generated so far (row 0 of the batch).
    """

    def __init__(self, run_in_thread=True, show_partial=True):
        self.run_in_thread = run_in_thread
        self.show_partial = show_partial
        self.progress = ipywidgets.IntProgress(0, min=0, max=1, description="progress")
        self.time_label = ipywidgets.HTML()
        self.stop_button = ipywidgets.Button(description="Stop", icon="stop", button_style="danger", disabled=True)
        self.partial_player = audio_player()
        self.partial_player.layout.display = None if show_partial else "none"
        self._cancel = threading.Event()
        self._thread = None
        self._running = False
        self._started = 0.0
        self._chunks = 0
        super().__init__([ipywidgets.HBox([self.progress, self.stop_button, self.time_label]), self.partial_player])
        self.stop_button.on_click(lambda _: self.stop())

    @property
    def running(self):
        """True between :meth:`start` and the end of the work."""
        return self._running

    def stop(self):
        """Ask the running job to stop after its current chunk."""
        if self._running:
            self._cancel.set()
            self.time_label.value = "stopping…"

    def wait(self, timeout=None):
        """Block until the job's thread has finished."""
        if self._thread is not None:
            self._thread.join(timeout)

    def start(self, work, on_done, on_cancelled, on_failed):
        """Run ``work(progress, cancel)`` and hand its outcome to exactly one callback.

        Parameters
        ----------
        work : callable(progress, cancel) -> result
            Passes ``progress`` and ``cancel`` (a :class:`threading.Event`) on to
            :meth:`Synthesizer.synthesize <nsynth_widgets.runtime.Synthesizer.synthesize>`.
        on_done : callable(result)
        on_cancelled : callable(partial_audio [shape=(batch, n_done)])
        on_failed : callable(exception)
            Also receives exceptions raised by the other two callbacks.

        Returns
        -------
        started : bool
            False (and nothing runs) while another job is running.
        """
        if self._running:
            return False
        self._running = True
        self._cancel.clear()
        self._started = time.monotonic()
        self._chunks = 0
        self.progress.value = 0
        self.progress.bar_style = "info"
        self.time_label.value = "starting…"
        self.partial_player.value = b""
        self.stop_button.disabled = False

        def body():
            try:
                try:
                    result = work(self._on_progress, self._cancel)
                except SynthesisCancelled as stopped:
                    self._finish("warning", f"stopped after {stopped.partial_audio.shape[-1]} samples")
                    if self.show_partial and stopped.partial_audio.shape[-1]:
                        self.partial_player.value = wav(stopped.partial_audio[0])
                    on_cancelled(stopped.partial_audio)
                else:
                    self.progress.value = self.progress.max
                    self._finish("success", f"done in {time.monotonic() - self._started:.1f} s")
                    on_done(result)
            except Exception as error:  # reported by the panel, never lost in a thread
                self._finish("danger", "failed")
                on_failed(error)

        self._thread = run_task(body, self.run_in_thread)
        return True

    def _finish(self, style, text):
        self._running = False
        self.stop_button.disabled = True
        self.progress.bar_style = style
        self.time_label.value = html.escape(text)

    def _on_progress(self, done, total, partial_audio):
        """Progress hook of the synthesis: bar, time estimate, and now and then the partial audio."""
        self._chunks += 1
        self.progress.max = max(1, int(total))
        self.progress.value = int(done)
        elapsed = time.monotonic() - self._started
        left = elapsed * (total - done) / done if done else float("nan")
        self.time_label.value = f"{done} / {total} samples · {elapsed:.1f} s elapsed · about {left:.1f} s left"
        if self.show_partial and self._chunks % PARTIAL_EVERY == 0 and partial_audio.shape[-1]:
            self.partial_player.value = wav(partial_audio[0])
