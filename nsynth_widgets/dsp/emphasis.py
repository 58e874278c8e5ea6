"""Pre-emphasis and de-emphasis: the first-order filter pair of LPCNet's noise shaping.

A decoder that predicts the mu-law classes of the *pre-emphasized* signal
``y[n] = x[n] - a * x[n - 1]`` and whose output is *de-emphasized*
(``x[n] = y[n] + a * x[n - 1]``) spreads its quantization and sampling errors with the
spectral tilt of music and speech instead of flat: they fall where the sound is loud and stay
out of the quiet high frequencies where a flat error is heard as hiss. Both filters start from
rest (``x[-1] = 0``), so de-emphasizing a pre-emphasized signal returns it exactly (up to float
rounding), and a prefix of the output depends only on the same prefix of the input.
"""

import numpy as np

from ..errors import check_number

__all__ = ["pre_emphasis", "de_emphasis", "check_coefficient", "MAX_COEFFICIENT"]

#: The largest coefficient allowed: at 1 de-emphasis is an integrator, and its output drifts.
MAX_COEFFICIENT = 0.99


def check_coefficient(name, coefficient):
    """``coefficient`` as a float in ``[0, MAX_COEFFICIENT]``, or ParameterError naming ``name``."""
    return check_number(name, coefficient, 0.0, MAX_COEFFICIENT)


def pre_emphasis(audio, coefficient):
    """``y[n] = x[n] - coefficient * x[n - 1]`` along the last axis, starting from rest.

    Parameters
    ----------
    audio : np.ndarray [shape=(..., time)], float
    coefficient : float
        In ``[0, MAX_COEFFICIENT]``; 0 returns the audio unchanged.

    Returns
    -------
    emphasized : np.ndarray [shape=(..., time)], float32
    """
    a = check_coefficient("coefficient", coefficient)
    audio = np.asarray(audio, np.float32)
    out = audio.copy()
    if a:
        out[..., 1:] -= np.float32(a) * audio[..., :-1]
    return out


def de_emphasis(signal, coefficient):
    """``x[n] = y[n] + coefficient * x[n - 1]`` along the last axis, starting from rest.

    The inverse of :func:`pre_emphasis`. Its output may leave ``[-1, 1]`` where the input does not.

    Parameters
    ----------
    signal : np.ndarray [shape=(..., time)], float
    coefficient : float
        In ``[0, MAX_COEFFICIENT]``; 0 returns the signal unchanged.

    Returns
    -------
    audio : np.ndarray [shape=(..., time)], float32
    """
    a = check_coefficient("coefficient", coefficient)
    signal = np.asarray(signal, np.float32)
    if a == 0.0:
        return signal.copy()
    import scipy.signal  # imported when first used: model configurations import this module

    return scipy.signal.lfilter([1.0], [1.0, -a], signal, axis=-1).astype(np.float32)
