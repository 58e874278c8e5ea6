"""Fitting a model's transposition map on notes rendered at many pitches.

A rendered dataset holds each instrument at every second pitch of its range, at the same
velocities. For each (instrument, velocity) of the chosen notes, every two of its notes at most
``max_interval`` semitones apart give one example per frame: the encoding of one and the
interval → the learned channels of the other (the notes start together and are held equally
long, so frame ``t`` of one matches frame ``t`` of the other). The map
(:class:`~nsynth_widgets.model.transposition.TranspositionMap`) is fitted to the change of the
learned channels with Keras (mean squared error, Adam) and reported on the held-out split's
instruments as the error left against the error of not moving the channels at all.

What the map should get right is what the decoder makes of its output, not every channel alike:
:func:`tune_transposition_map` then trains it through the frozen decoder, on the same pairs, to
lower the teacher-forced loss of the *second* note's audio given the first note's encoding moved
to the second's pitch (its learned channels by the map, its pitch channels those measured on the
second note). It reports that loss on held-out instruments beside two references: the learned
channels left as they are, and the second note's own encoding.

    from nsynth_widgets.training.transposition import fit_transposition_map, tune_transposition_map
    model = NSynth.default()
    model.transposition_map, report = fit_transposition_map(model, "data/notes")
    model.transposition_map, report = tune_transposition_map(model, "data/notes")
    model.save_weights("with_map.npz")
"""

import numpy as np

from ..errors import ParameterError, check_integer, check_number, describe
from ..model.transposition import TranspositionMap, window_features
from .dataset import NoteDataset

__all__ = ["fit_transposition_map", "note_groups", "transposition_examples", "tune_transposition_map"]

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


def _encoded_groups(model, data_dir, groups, valid_groups, seconds, seed, batch_size, progress):
    """Draw (instrument, velocity) groups of both splits and encode the first ``seconds`` of their notes.

    Returns
    -------
    train, valid : list of (np.ndarray [shape=(notes, samples)], np.ndarray [shape=(notes, frames, channels)], list of int)
        Per group: its notes' audio, their encodings and their MIDI pitches.
    """
    c = model.config
    samples = int(seconds * c.sample_rate) // c.hop_length * c.hop_length
    rng = np.random.default_rng(seed)
    train_set, valid_set = NoteDataset(data_dir, "train"), NoteDataset(data_dir, "valid")
    chosen = _choose(note_groups(train_set), groups, rng, "train")
    held = _choose(note_groups(valid_set), valid_groups, rng, "valid")
    total, done = sum(map(len, chosen)) + sum(map(len, held)), 0
    splits = []
    for dataset, split_groups in ((train_set, chosen), (valid_set, held)):
        encoded = []
        for group in split_groups:
            audio = np.stack([dataset.load(note_id)[:samples] for note_id in group])
            pitches = [dataset.examples[note_id]["pitch"] for note_id in group]
            encoded.append((audio, model.encode(audio, batch_size=batch_size), pitches))
            done += len(group)
            if progress is not None:
                progress(done, total)
        splits.append(encoded)
    return splits


def _examples(encoded, context, max_interval, learned):
    pairs = [
        transposition_examples(encodings, pitches, context, max_interval, learned) for _, encodings, pitches in encoded
    ]
    return np.concatenate([f for f, _ in pairs]), np.concatenate([c for _, c in pairs])


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
    encoded, encoded_valid = _encoded_groups(model, data_dir, groups, valid_groups, seconds, seed, batch_size, progress)
    x, y = _examples(encoded, context, max_interval, c.learned_channels)
    xv, yv = _examples(encoded_valid, context, max_interval, c.learned_channels)
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


def _pairs(encoded, max_interval):
    """``(group, first note, second note, interval)`` for every two notes of a group close enough."""
    return [
        (g, i, j, high - low)
        for g, (_, _, pitches) in enumerate(encoded)
        for i, low in enumerate(pitches)
        for j, high in enumerate(pitches)
        if 0 < abs(high - low) <= max_interval
    ]


def _crops(config, encoded, pairs, context, crop_frames, rng, own=False):
    """Decoder inputs for crops of the pairs: the second note's audio and pitch, the first's encoding.

    Returns
    -------
    inputs : dict
        ``"audio"`` and ``"excitation"`` as :func:`~nsynth_widgets.training.train.model_inputs`
        makes them for the second notes' crops ``(batch, crop_frames * hop)``; ``"pitch"`` their
        pitch channels ``(batch, crop_frames, 2)``; ``"learned"`` the first notes' learned
        channels ``(batch, crop_frames, learned)`` and ``"features"`` the map's input for them;
        with ``own``, ``"own"``: the second notes' learned channels.
    targets : np.ndarray [shape=(batch, crop_frames * hop)], int32
    """
    from .train import model_inputs

    hop, learned = config.hop_length, config.learned_channels
    audio, pitch, first, second, features = [], [], [], [], []
    for g, i, j, interval in pairs:
        sounds, encodings, _ = encoded[g]
        start = int(rng.integers(encodings.shape[1] - crop_frames + 1))
        frames = slice(start, start + crop_frames)
        audio.append(sounds[j, start * hop : (start + crop_frames) * hop])
        pitch.append(encodings[j, frames, learned:])
        first.append(encodings[i, frames, :learned])
        second.append(encodings[j, frames, :learned])
        features.append(window_features(encodings[i : i + 1], context, interval)[0, frames])
    inputs, targets = model_inputs(config, np.stack(audio), np.stack(pitch))
    inputs = {key: inputs[key] for key in ("audio", "excitation", "pitch")}
    inputs |= {"learned": np.stack(first), "features": np.stack(features)}
    return inputs | ({"own": np.stack(second)} if own else {}), targets


def _mapped_decoder(net, transposition_map):
    """A Keras model: the map's layers (trainable, from ``transposition_map``) into the frozen decoder of ``net``."""
    import keras

    class MappedDecoder(keras.Model):
        def __init__(self):
            super().__init__(name="mapped_decoder")
            self.decoder = net
            self.dense = [
                keras.layers.Dense(w.shape[1], name=f"dense_{i}") for i, (w, _) in enumerate(transposition_map.layers)
            ]

        def call(self, inputs):
            h = inputs["features"]
            for i, dense in enumerate(self.dense):
                h = dense(h)
                if i < len(self.dense) - 1:
                    h = keras.ops.relu(h)
            learned = inputs["learned"] + inputs["features"][..., -1:] * h
            encoding = keras.ops.concatenate([learned, inputs["pitch"]], axis=-1)
            return self.decoder.decode_logits(inputs["audio"], encoding, inputs["excitation"])

    mapped = MappedDecoder()
    for dense, (w, b) in zip(mapped.dense, transposition_map.layers):
        dense.build((None, None, w.shape[0]))
        dense.set_weights([w, b])
    return mapped


def tune_transposition_map(
    model,
    data_dir,
    steps=600,
    groups=48,
    valid_groups=12,
    max_interval=12,
    seconds=2.5,
    crop_frames=8,
    pairs_per_step=8,
    learning_rate=3e-4,
    valid_crops=48,
    eval_every=100,
    seed=0,
    batch_size=8,
    progress=None,
):
    """Train ``model``'s transposition map through its frozen decoder.

    Each step draws ``pairs_per_step`` pairs of one group's notes at most ``max_interval``
    semitones apart and a crop of ``crop_frames`` frames of each; the decoder, teacher-forced on the
    second note's crop, hears the first note's encoding with its learned channels moved by the map
    and the second note's measured pitch channels (and their oscillator). Only the map's
    parameters change (Adam, gradient-norm clip 1.0), to lower that cross-entropy.

    Parameters
    ----------
    model : NSynth
        Pitch-conditioned, with a transposition map (:func:`fit_transposition_map` fits one).
    data_dir : str or os.PathLike
        A folder written by ``nsynth-widgets render-notes``.
    steps : int
    groups, valid_groups, max_interval, seconds, seed, batch_size
        As for :func:`fit_transposition_map` (the same seed draws the same groups).
    crop_frames : int
        Frames of each crop (``crop_frames * hop_length`` samples).
    pairs_per_step : int
    learning_rate : float
    valid_crops : int
        Crops of held-out pairs, drawn once, that the report's losses are measured on.
    eval_every : int
        Steps between measurements of that loss during tuning.
    progress : callable(step, steps, valid_loss), optional
        Called after the notes are encoded (step 0, with the loss before tuning) and after every
        step (``valid_loss`` None except every ``eval_every`` steps and at the last).

    Returns
    -------
    transposition_map : TranspositionMap
    report : dict
        Mean cross-entropy (nats per sample) on the held-out crops with the learned channels
        ``"unmoved"``, moved by the map before (``"before"``) and after (``"after"``) tuning, and
        the second note's own (``"own"``, what a perfect map would give); ``"steps"``; and
        ``"history"``, ``[(step, loss)]`` of the measurements during tuning.
    """
    import keras

    if not model.config.pitch_conditioned or model.transposition_map is None:
        raise ParameterError(
            "`model` must be pitch-conditioned and hold a transposition map to tune it (fit one first: "
            f"fit_transposition_map). Received: model={model.config.name!r}"
            f"{'' if model.config.pitch_conditioned else ' (no pitch channels)'}, without a map."
        )
    steps = check_integer("steps", steps, 1)
    groups = check_integer("groups", groups, 1)
    valid_groups = check_integer("valid_groups", valid_groups, 1)
    max_interval = check_integer("max_interval", max_interval, 1, 24)
    seconds = check_number("seconds", seconds, 0.1, 4.0)
    crop_frames = check_integer("crop_frames", crop_frames, 1)
    pairs_per_step = check_integer("pairs_per_step", pairs_per_step, 1)
    learning_rate = check_number("learning_rate", learning_rate, 0.0, low_open=True)
    valid_crops = check_integer("valid_crops", valid_crops, 1)
    eval_every = check_integer("eval_every", eval_every, 1)
    seed = check_integer("seed", seed, 0)
    c, start = model.config, model.transposition_map
    frames = int(seconds * c.sample_rate) // c.hop_length
    if crop_frames > frames:
        raise ParameterError(
            f"`crop_frames` must fit in the {frames} frames of `seconds`={seconds}. Received: crop_frames={crop_frames}."
        )
    encoded, encoded_valid = _encoded_groups(model, data_dir, groups, valid_groups, seconds, seed, batch_size, None)
    train_pairs, valid_pairs = _pairs(encoded, max_interval), _pairs(encoded_valid, max_interval)
    if not train_pairs or not valid_pairs:
        raise ParameterError(
            f"`max_interval` must admit pairs of notes of one instrument. Received: max_interval={describe(max_interval)}."
        )
    rng = np.random.default_rng([seed, 1])
    chosen = rng.integers(len(valid_pairs), size=valid_crops)
    valid = [
        _crops(
            c,
            encoded_valid,
            [valid_pairs[k] for k in chosen[n : n + pairs_per_step]],
            start.context,
            crop_frames,
            rng,
            True,
        )
        for n in range(0, valid_crops, pairs_per_step)
    ]

    net = model.keras_model

    def loss(inputs, targets, learned):
        encoding = keras.ops.concatenate([learned, inputs["pitch"]], axis=-1)
        logits = net.decode_logits(inputs["audio"], encoding, inputs["excitation"])
        return keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)

    def valid_loss(learned_of):
        """Mean cross-entropy over the held-out crops, the learned channels ``learned_of(inputs)``."""
        return float(np.mean([keras.ops.convert_to_numpy(loss(x, y, learned_of(x))) for x, y in valid]))

    def mapped_by(transposition_map):
        return lambda x: x["learned"] + x["features"][..., -1:] * transposition_map.change_per_octave(x["features"])

    report = {
        "unmoved": valid_loss(lambda x: x["learned"]),
        "before": valid_loss(mapped_by(start)),
        "history": [],
    }
    if progress is not None:
        progress(0, steps, report["before"])

    trainable = net.trainable
    net.trainable = False
    try:
        keras.utils.set_random_seed(seed)
        mapped = _mapped_decoder(net, start)
        mapped.compile(
            optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        for step in range(1, steps + 1):
            picks = rng.integers(len(train_pairs), size=pairs_per_step)
            x, y = _crops(c, encoded, [train_pairs[k] for k in picks], start.context, crop_frames, rng)
            mapped.train_on_batch(x, y)
            measured = None
            if step % eval_every == 0 or step == steps:
                tuned = TranspositionMap(
                    [d.get_weights() for d in mapped.dense], c.bottleneck_width, c.learned_channels
                )
                measured = valid_loss(mapped_by(tuned))
                report["history"].append((step, measured))
            if progress is not None:
                progress(step, steps, measured)
    finally:
        net.trainable = trainable
    report |= {"after": report["history"][-1][1], "own": valid_loss(lambda x: x["own"]), "steps": steps}
    return tuned, report
