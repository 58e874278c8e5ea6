"""Fitting a model's transposition map on notes rendered at many pitches.

A rendered dataset holds each instrument at every second pitch of its range, at the same
velocities. For each (instrument, velocity) of the chosen notes, every two of its notes at most
``max_interval`` semitones apart give one example per frame: the encoding of one and the
interval → the learned channels of the other (the notes start together and are held equally
long, so frame ``t`` of one matches frame ``t`` of the other). The map
(:class:`~nsynth_widgets.model.transposition.TranspositionMap`) is fitted to the change of the
learned channels with Keras (mean squared error, Adam) and reported on the held-out split's
instruments as the error left against the error of not moving the channels at all.

    from nsynth_widgets.training.transposition import fit_transposition_map
    model = NSynth.default()
    model.transposition_map, report = fit_transposition_map(model, "data/notes")
    model.save_weights("with_map.npz")
"""

import numpy as np

from ..errors import ParameterError, check_integer, check_number, describe
from ..model.transposition import TranspositionMap, window_features
from .dataset import NoteDataset

__all__ = ["fit_transposition_map", "note_groups", "transposition_examples"]

#: Velocities and MIDI pitches of the notes a map is fitted on (loud enough to have a clear timbre).
MIN_VELOCITY = 75
PITCH_RANGE = (36, 96)


def note_groups(dataset, min_notes=4):
    """The dataset's notes by (instrument, velocity), each group sorted by pitch.

    Only notes of velocity >= :data:`MIN_VELOCITY` and pitch within :data:`PITCH_RANGE`.

    Returns
    -------
    groups : list of list of str
        Note ids, groups of at least ``min_notes`` notes, in a fixed order.
    """
    by_key = {}
    for note_id in dataset.note_ids:
        note = dataset.examples[note_id]
        if note["velocity"] >= MIN_VELOCITY and PITCH_RANGE[0] <= note["pitch"] <= PITCH_RANGE[1]:
            by_key.setdefault((note["instrument_str"], note["velocity"]), []).append(note_id)
    return [
        sorted(ids, key=lambda note_id: dataset.examples[note_id]["pitch"])
        for _, ids in sorted(by_key.items())
        if len(ids) >= min_notes
    ]


def transposition_examples(encodings, pitches, context, max_interval, learned):
    """Every pair of one group's notes at most ``max_interval`` semitones apart, frame by frame.

    Parameters
    ----------
    encodings : np.ndarray [shape=(notes, frames, channels)], float32
        The group's encodings.
    pitches : sequence of int
        Their MIDI pitches.
    context : int
    max_interval : int
    learned : int
        The learned channels (``ModelConfig.learned_channels``), the first of each encoding.

    Returns
    -------
    features : np.ndarray [shape=(pairs * frames, (2 * context + 1) * channels + 1)], float32
        :func:`~nsynth_widgets.model.transposition.window_features` of the first note of each pair.
    changes : np.ndarray [shape=(pairs * frames, learned_channels)], float32
        The second note's learned channels minus the first's, divided by ``interval / 12``.
    """
    features, changes = [], []
    for i, low in enumerate(pitches):
        for j, high in enumerate(pitches):
            interval = high - low
            if interval == 0 or abs(interval) > max_interval:
                continue
            features.append(window_features(encodings[i : i + 1], context, interval)[0])
            changes.append((encodings[j, :, :learned] - encodings[i, :, :learned]) / (interval / 12.0))
    if not features:
        width = (2 * context + 1) * encodings.shape[-1] + 1
        return np.empty((0, width), np.float32), np.empty((0, learned), np.float32)
    return np.concatenate(features), np.concatenate(changes).astype(np.float32)


def _examples(model, dataset, groups, context, max_interval, samples, batch_size, progress, done, total):
    features, changes = [], []
    for group in groups:
        audio = np.stack([dataset.load(note_id)[:samples] for note_id in group])
        encodings = model.encode(audio, batch_size=batch_size)
        pitches = [dataset.examples[note_id]["pitch"] for note_id in group]
        f, c = transposition_examples(encodings, pitches, context, max_interval, model.config.learned_channels)
        features.append(f)
        changes.append(c)
        done += len(group)
        if progress is not None:
            progress(done, total)
    return np.concatenate(features), np.concatenate(changes), done


def _choose(groups, n, rng, split):
    if not groups:
        raise ParameterError(
            f"`data_dir` must hold, in its {split} split, instruments with at least 4 notes of velocity >= "
            f"{MIN_VELOCITY} at pitches {PITCH_RANGE[0]}-{PITCH_RANGE[1]} (render them with `nsynth-widgets "
            "render-notes`). Received: none."
        )
    order = rng.permutation(len(groups))[:n]
    return [groups[i] for i in sorted(order)]


def fit_transposition_map(
    model,
    data_dir,
    groups=48,
    valid_groups=12,
    context=2,
    hidden=128,
    epochs=8,
    max_interval=12,
    seconds=2.5,
    seed=0,
    batch_size=8,
    progress=None,
):
    """Fit a transposition map for ``model`` on a rendered dataset's training split.

    Parameters
    ----------
    model : NSynth
        Pitch-conditioned; its encoder makes the examples.
    data_dir : str or os.PathLike
        A folder written by ``nsynth-widgets render-notes``.
    groups, valid_groups : int
        (instrument, velocity) groups drawn from the training and held-out splits.
    context : int
        Frames on either side the map reads.
    hidden : int
        Width of its two hidden layers.
    epochs : int
        Passes over the examples.
    max_interval : int
        Largest interval (semitones) between the notes of an example.
    seconds : float
        The first this many seconds of each note are encoded (the attack and the held part).
    seed : int
    batch_size : int
        Notes per encoder call.
    progress : callable(notes_encoded, notes_total), optional

    Returns
    -------
    transposition_map : TranspositionMap
    report : dict
        ``train_examples``, ``valid_examples`` (frames), and ``train_error_ratio`` /
        ``valid_error_ratio``: per learned channel, the mean squared error of the map's
        prediction over that of leaving the channel as it is, averaged over channels.
    """
    import keras

    if not model.config.pitch_conditioned:
        raise ParameterError(
            f"`model` must be pitch-conditioned to fit a transposition map. Received: model={model.config.name!r}."
        )
    groups = check_integer("groups", groups, 1)
    valid_groups = check_integer("valid_groups", valid_groups, 1)
    context = check_integer("context", context, 0, 8)
    hidden = check_integer("hidden", hidden, 1)
    epochs = check_integer("epochs", epochs, 1)
    max_interval = check_integer("max_interval", max_interval, 1, 24)
    seconds = check_number("seconds", seconds, 0.1, 4.0)
    seed = check_integer("seed", seed, 0)
    c = model.config
    samples = int(seconds * c.sample_rate) // c.hop_length * c.hop_length
    rng = np.random.default_rng(seed)
    train_set, valid_set = NoteDataset(data_dir, "train"), NoteDataset(data_dir, "valid")
    chosen = _choose(note_groups(train_set), groups, rng, "train")
    held = _choose(note_groups(valid_set), valid_groups, rng, "valid")
    total = sum(map(len, chosen)) + sum(map(len, held))
    x, y, done = _examples(model, train_set, chosen, context, max_interval, samples, batch_size, progress, 0, total)
    xv, yv, _ = _examples(model, valid_set, held, context, max_interval, samples, batch_size, progress, done, total)
    if not len(x):
        raise ParameterError(
            f"`max_interval` must admit pairs of notes of one instrument. Received: max_interval={describe(max_interval)}."
        )

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1],))
    h = keras.layers.Dense(hidden, activation="relu")(inputs)
    h = keras.layers.Dense(hidden, activation="relu")(h)
    net = keras.Model(inputs, keras.layers.Dense(c.learned_channels)(h))
    net.compile(keras.optimizers.Adam(1e-3), "mse")
    # the examples are changes per octave: weigh each by (interval / 12)^2, the loss of the change itself
    weights = np.square(x[:, -1])
    net.fit(x, y, sample_weight=weights, batch_size=1024, epochs=epochs, verbose=0, shuffle=True)
    layers = [(dense.kernel.numpy(), dense.bias.numpy()) for dense in net.layers[1:]]
    fitted = TranspositionMap(layers, c.bottleneck_width, c.learned_channels)

    def error_ratio(features, changes):
        if not len(features):
            return float("nan")
        s = features[:, -1:]
        predicted = net.predict(features, batch_size=8192, verbose=0) * s
        target = changes * s
        return float(np.mean(np.mean((predicted - target) ** 2, axis=0) / np.mean(target**2, axis=0)))

    report = {
        "train_examples": int(len(x)),
        "valid_examples": int(len(xv)),
        "train_error_ratio": error_ratio(x, y),
        "valid_error_ratio": error_ratio(xv, yv),
    }
    return fitted, report
