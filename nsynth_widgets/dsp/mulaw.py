"""8-bit mu-law companding exactly as NSynth defines it.

"mu-law" means different things in different codebases. Ours is NSynth's:

* encode: ``code = floor(128 * sign(x) * log1p(mu |x|) / log1p(mu))``, clipped to
  ``[-128, 127]`` (``x = +1.0`` would give 128 in the raw formula);
* the network's input is ``code / 128``; the softmax target class is ``code + 128``;
* decode: ``y = (code + 0.5) * 2 / (mu + 1)``, ``x = sign(y) * ((1 + mu) ** |y| - 1) / mu``,
  except that code 0 decodes to exactly 0.

Decoding then encoding returns every code unchanged, so the generator can feed back either
the code or the decoded audio.
"""

import numpy as np

from ..errors import ParameterError, check_integer

__all__ = ["mu_law_encode", "mu_law_decode", "codes_to_classes", "classes_to_codes", "quantize"]


def mu_law_encode(x, mu=255, bits=8):
    """Compand audio into signed integer codes.

    Parameters
    ----------
    x : np.ndarray [shape=(...,)], float
        Audio in [-1, 1]; values outside are clipped.
    mu : int
        Companding strength (255 for NSynth).
    bits : int
        Code width: codes lie in ``[-2**(bits-1), 2**(bits-1) - 1]`` (8 for NSynth).

    Returns
    -------
    codes : np.ndarray [shape=(...,)], int32
    """
    mu = check_integer("mu", mu, 1)
    bits = check_integer("bits", bits, 1, 16)
    half = 2 ** (bits - 1)
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    companded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.clip(np.floor(companded * half), -half, half - 1).astype(np.int32)


def mu_law_decode(codes, mu=255, bits=8):
    """Expand signed integer codes back to audio.

    Parameters
    ----------
    codes : np.ndarray [shape=(...,)], int
        Codes in ``[-2**(bits-1), 2**(bits-1) - 1]``.
    mu, bits : int
        As in :func:`mu_law_encode`.

    Returns
    -------
    x : np.ndarray [shape=(...,)], float32, in [-1, 1]
    """
    mu = check_integer("mu", mu, 1)
    bits = check_integer("bits", bits, 1, 16)
    half = 2 ** (bits - 1)
    codes = np.asarray(codes)
    if codes.size and (codes.min() < -half or codes.max() > half - 1):
        raise ParameterError(
            f"`codes` must lie in [{-half}, {half - 1}]. Received: codes with range [{codes.min()}, {codes.max()}]."
        )
    codes = codes.astype(np.float64)
    y = (codes + 0.5) / half
    x = np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu
    return np.where(codes == 0, 0.0, x).astype(np.float32)


def codes_to_classes(codes):
    """Signed 8-bit codes ``[-128, 127]`` → softmax classes ``[0, 255]`` (int32)."""
    return np.asarray(codes, dtype=np.int32) + 128


def classes_to_codes(classes):
    """Softmax classes ``[0, 255]`` → signed 8-bit codes ``[-128, 127]`` (int32)."""
    return np.asarray(classes, dtype=np.int32) - 128


def quantize(x, mu=255, bits=8):
    """Audio as the network hears it: mu-law encode then decode (float32, same shape)."""
    return mu_law_decode(mu_law_encode(x, mu, bits), mu, bits)
