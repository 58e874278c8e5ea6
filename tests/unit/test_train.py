"""Training: a few steps lower the loss, runs resume where they stopped, weights reload exactly."""

import dataclasses
import json
import warnings

import numpy as np
import pytest

from nsynth_widgets.errors import ParameterError
from nsynth_widgets.model.config import ModelConfig
from nsynth_widgets.model.nsynth import NSynth
from nsynth_widgets.training.train import TrainConfig, batch_to_inputs, model_inputs, train

INPUT_NOISE_STEPS = 400
"""Steps for the tiny model to lean on its exact past (and, with input noise, to learn not to)."""

CONFIG = ModelConfig(
    name="train-test",
    num_layers=4,
    num_stages=2,
    width=16,
    skip_width=16,
    ae_num_layers=2,
    ae_num_stages=2,
    ae_width=16,
    hop_length=64,
)


class Tones:
    """Random-pitch sine crops: easy to predict, so a few steps must lower the loss."""

    def random_crops(self, batch, length, rng):
        f = rng.uniform(110.0, 880.0, (batch, 1))
        return (0.6 * np.sin(2 * np.pi * f * np.arange(length) / 16000.0)).astype(np.float32)


class PitchedTones:
    """Sine crops with their measured pitch channels, as a NoteDataset gives them to a pitch-conditioned model."""

    def random_crops(self, batch, length, rng, with_pitch_channels=False):
        from nsynth_widgets.dsp.pitch import estimate_pitch

        crops = Tones().random_crops(batch, length, rng)
        return (crops, estimate_pitch(crops, hop_length=64)) if with_pitch_channels else crops


def _settings(steps):
    return TrainConfig(
        steps=steps,
        batch_size=4,
        crop_length=512,
        learning_rate=3e-3,
        warmup_steps=5,
        checkpoint_every=10,
        eval_every=10,
        eval_batches=2,
    )


def _teacher_forced_loss(model, rng):
    audio = Tones().random_crops(4, 512, rng)
    logits = model.decode_logits(audio, model.encode(audio))
    _, targets = batch_to_inputs(audio)
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_p, targets[..., None], axis=-1).mean()


def test_a_few_steps_lower_the_loss_and_the_run_resumes(tmp_path):
    import keras

    keras.utils.set_random_seed(0)  # as train() does with TrainConfig.seed=0: the same starting point
    before = NSynth(CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # training must not spam warnings
        model = train(CONFIG, Tones(), tmp_path, _settings(30), valid_data=Tones())
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [10, 20, 30]
    assert log[-1]["valid_loss"] < log[0]["valid_loss"]
    rng = np.random.default_rng(5)
    assert _teacher_forced_loss(model, rng) < _teacher_forced_loss(before, np.random.default_rng(5)) - 0.5

    # resume: the run continues from step 30 with its optimizer state, not from scratch
    train(CONFIG, Tones(), tmp_path, _settings(40), valid_data=Tones())
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [10, 20, 30, 40]


def test_saved_weights_reload_bit_exactly_in_the_inference_core(tmp_path):
    model = train(CONFIG, Tones(), tmp_path, _settings(10))
    reloaded = NSynth.from_weights(tmp_path / "weights.npz")
    for name, value in model.variables().items():
        assert np.array_equal(reloaded.variables()[name], value), name
    enc = np.random.default_rng(0).normal(size=(1, 2, 16)).astype(np.float32)
    np.testing.assert_array_equal(reloaded.synthesize(enc, seed=3), model.synthesize(enc, seed=3))


def test_cancel_checkpoints_and_returns(tmp_path):
    calls = []
    train(
        CONFIG,
        Tones(),
        tmp_path,
        _settings(50),
        cancel=lambda: len(calls) >= 3,
        progress=lambda step, total, record: calls.append(step),
    )
    assert calls == [1, 2, 3]
    assert NSynth.from_weights(tmp_path / "weights.npz").config == CONFIG


def test_resuming_with_another_configuration_is_refused(tmp_path):
    train(CONFIG, Tones(), tmp_path, _settings(1))
    with pytest.raises(ParameterError, match=r"`run_dir` must hold a run of the same model configuration"):
        train(CONFIG.replace(width=8), Tones(), tmp_path, _settings(2))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"steps": 0}, r"`steps` must be an integer >= 1. Received: steps=0."),
        ({"learning_rate": 5.0}, r"`learning_rate` must be a number in \(0, 1\). Received: learning_rate=5.0."),
        ({"phase_lock": 1}, r"`phase_lock` must be True or False. Received: phase_lock=1."),
        ({"input_noise": -1}, r"`input_noise` must be a finite number >= 0. Received: input_noise=-1."),
        ({"input_noise": float("inf")}, r"`input_noise` must be a finite number >= 0. Received: input_noise=inf."),
    ],
)
def test_bad_training_settings(changes, match):
    with pytest.raises(ParameterError, match=match):
        TrainConfig(**changes)


def test_crop_shorter_than_a_hop_is_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"`crop_length` must be at least one hop \(64 samples\)"):
        train(CONFIG, Tones(), tmp_path, TrainConfig(steps=1, crop_length=32))


def test_training_runs_on_the_jax_backend_and_loads_in_tensorflow(tmp_path):
    """The GPU route: train with KERAS_BACKEND=jax in a subprocess (with input noise, whose random
    draws are backend-specific), then load the weights here (TensorFlow) — the teacher-forced logits agree."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import numpy as np, keras
        assert keras.backend.backend() == "jax"
        from nsynth_widgets.model.nsynth import NSynth
        from nsynth_widgets.training.train import TrainConfig, train
        from tests.unit.test_train import CONFIG, Tones
        settings = TrainConfig(steps=3, batch_size=2, crop_length=256, input_noise=2.0)
        model = train(CONFIG, Tones(), {str(tmp_path)!r}, settings)
        audio = Tones().random_crops(1, 256, np.random.default_rng(0))
        np.save({str(tmp_path / "audio.npy")!r}, audio)
        np.save({str(tmp_path / "logits.npy")!r}, model.decode_logits(audio, model.encode(audio)))
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": root, "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, cwd=root)
    reloaded = NSynth.from_weights(tmp_path / "weights.npz")
    audio = np.load(tmp_path / "audio.npy")
    logits = reloaded.decode_logits(audio, reloaded.encode(audio))
    np.testing.assert_allclose(logits, np.load(tmp_path / "logits.npy"), atol=1e-4)


def test_a_new_run_can_start_from_given_weights(tmp_path):
    first = train(CONFIG, Tones(), tmp_path / "a", _settings(10))
    started = train(CONFIG, Tones(), tmp_path / "b", _settings(1), init_weights=tmp_path / "a" / "weights.npz")
    moved = max(np.abs(started.variables()[n] - v).max() for n, v in first.variables().items())
    assert 0 < moved < 0.05  # one small step away from the given weights, not a fresh random model
    with pytest.raises(ParameterError, match=r"`init_weights` must hold a model of the configuration being trained"):
        train(
            CONFIG.replace(width=8), Tones(), tmp_path / "c", _settings(1), init_weights=tmp_path / "a" / "weights.npz"
        )


def test_a_pitch_conditioned_model_trains_on_crops_with_their_pitch(tmp_path):
    """The source-filter model trains from its pitch channels and phase-locked oscillator, and learns to
    follow that oscillator: with the oscillator aligned it predicts the tone far better than without."""
    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    settings = dataclasses.replace(_settings(150), checkpoint_every=50, eval_every=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = train(config, PitchedTones(), tmp_path, settings, valid_data=PitchedTones())
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [50, 100, 150] and log[-1]["valid_loss"] < log[0]["valid_loss"]
    assert NSynth.from_weights(tmp_path / "weights.npz").config == config

    audio, pitch = PitchedTones().random_crops(8, 512, np.random.default_rng(11), with_pitch_channels=True)

    def loss(phase_lock):
        inputs, targets = model_inputs(config, audio, pitch, phase_lock)
        encoding = np.concatenate([model.encode(audio)[..., :14], pitch], axis=-1)
        logits = model.decode_logits(audio, encoding, inputs["excitation"]).astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        return -np.take_along_axis(log_p, targets[..., None], axis=-1).mean()

    assert loss(True) < loss(False) - 0.1


def test_the_encoder_can_hear_pitch_shifted_crops_while_the_decoder_learns_the_originals(tmp_path, monkeypatch):
    from nsynth_widgets.dsp.pitch import channel_to_f0, estimate_pitch
    from nsynth_widgets.training import train as training

    tones = PitchedTones().random_crops(4, 4096, np.random.default_rng(2))
    shifted = training.shift_for_encoder(tones, 7.0, np.random.default_rng(3))
    assert shifted.shape == tones.shape and shifted.dtype == np.float32
    before, after = (
        np.median(channel_to_f0(estimate_pitch(x, hop_length=64)[:, 10:-10, 0]), axis=1) for x in (tones, shifted)
    )
    intervals = 12 * np.log2(after / before)
    expected = np.random.default_rng(3).uniform(-7.0, 7.0, 4)
    np.testing.assert_allclose(intervals, expected, atol=0.1)
    rng = np.random.default_rng(4)
    some = training.shift_for_encoder(tones, 7.0, rng, share=0.5)
    rng = np.random.default_rng(4)
    rng.uniform(size=4)  # the intervals, drawn first
    chosen = rng.uniform(size=4) < 0.5
    assert 0 < chosen.sum() < 4  # this seed shifts some crops and keeps others
    for crop, heard_crop, shifted_crop in zip(tones, some, chosen):
        assert np.array_equal(crop, heard_crop) != shifted_crop

    heard = []
    original = training.model_inputs
    monkeypatch.setattr(
        training,
        "model_inputs",
        lambda *a, **k: heard.append(a[4] if len(a) > 4 else k.get("encoder_audio")) or original(*a, **k),
    )
    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    settings = dataclasses.replace(_settings(2), encoder_pitch_shift=7.0, eval_every=2)
    train(config, PitchedTones(), tmp_path, settings, valid_data=PitchedTones())
    validation, training_steps = heard[:2], heard[2:]
    assert (
        all(h is None for h in validation) and len(training_steps) == 2 and all(h is not None for h in training_steps)
    )
    with pytest.raises(ParameterError, match=r"`encoder_pitch_shift` must be 0 for a model without pitch channels"):
        train(CONFIG, Tones(), tmp_path / "plain", settings)
    with pytest.raises(ParameterError, match=r"`encoder_pitch_shift` must be a number in \[0, 24\]"):
        TrainConfig(encoder_pitch_shift=-1)
    with pytest.raises(ParameterError, match=r"`encoder_shift_share` must be a number in \(0, 1\]"):
        TrainConfig(encoder_shift_share=0)


class PartneredTones(PitchedTones):
    """PitchedTones whose partners are the crops turned upside down (easy to tell from the crops), 3 semitones below."""

    def random_crops(self, batch, length, rng, with_pitch_channels=False, partner_interval=0):
        from nsynth_widgets.training.dataset import PartnerCrops

        crops, pitch = super().random_crops(batch, length, rng, with_pitch_channels=True)
        partners = PartnerCrops(-crops, pitch[..., ::-1].copy(), np.full(batch, 3.0, np.float32))
        return (crops, pitch, partners) if partner_interval else (crops, pitch)


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_the_encoder_can_hear_each_crops_partner_while_the_decoder_learns_the_crop(tmp_path, monkeypatch, share):
    from nsynth_widgets.training import train as training

    calls = []
    original = training.model_inputs
    monkeypatch.setattr(training, "model_inputs", lambda *a, **k: calls.append(a) or original(*a, **k))
    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    settings = dataclasses.replace(_settings(3), encoder_partner_interval=4, encoder_shift_share=share, eval_every=3)
    train(config, PartneredTones(), tmp_path, settings, valid_data=PitchedTones())
    validation, training_steps = calls[:2], calls[2:]
    assert all(a[4] is None for a in validation) and len(training_steps) == 3
    partnered = np.concatenate([np.all(a[4] == -a[1], axis=1) for a in training_steps])
    own = np.concatenate([np.all(a[4] == a[1], axis=1) for a in training_steps])
    assert np.all(partnered | own)  # each crop is heard as itself or as its partner, never anything else
    assert partnered.all() if share == 1.0 else 0 < partnered.sum() < len(partnered)
    with pytest.raises(ParameterError, match=r"`encoder_partner_interval` must be 0 for a model without pitch"):
        train(CONFIG, Tones(), tmp_path / "plain", settings)
    with pytest.raises(ParameterError, match=r"`encoder_pitch_shift` and `encoder_partner_interval` are two ways"):
        TrainConfig(encoder_pitch_shift=3, encoder_partner_interval=4)
    with pytest.raises(ParameterError, match=r"`encoder_partner_interval` must be an integer in \[0, 24\]"):
        TrainConfig(encoder_partner_interval=25)


def test_through_the_map_the_decoder_hears_a_partner_as_transpose_would_move_it(tmp_path, monkeypatch):
    """The partner's learned channels, moved by the map from its pitch channels by the interval; the others as heard."""
    from nsynth_widgets.model.transposition import TranspositionMap
    from nsynth_widgets.training import train as training

    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    per_octave = np.linspace(-1.0, 1.0, 14)  # a map whose change does not depend on the encoding: easy to predict
    first = NSynth(config)
    first.transposition_map = TranspositionMap(
        [(np.zeros((3 * 16 + 1, 4)), np.zeros(4)), (np.zeros((4, 14)), per_octave)], 16, 14
    )
    init = first.save_weights(tmp_path / "with_map.npz")
    steps = []
    original = training._trainee

    def recording_trainee(*args, **kwargs):
        trainee = original(*args, **kwargs)
        step = trainee.train_on_batch
        trainee.train_on_batch = lambda x, y, **k: steps.append(x) or step(x, y, **k)
        return trainee

    monkeypatch.setattr(training, "_trainee", recording_trainee)
    settings = dataclasses.replace(
        _settings(3),
        encoder_partner_interval=4,
        encoder_shift_share=0.5,
        freeze_encoder=True,
        partners_through_map=True,
    )
    train(config, PartneredTones(), tmp_path / "b", settings, init_weights=init)
    assert len(steps) == 3
    mapped = own = 0
    for x in steps:
        heard = x["encoder_audio"]
        learned = np.asarray(first.keras_model.encode(heard))
        partnered = ~np.all(heard == x["audio"], axis=1)  # the decoder's signal is the crop (no pre-emphasis)
        expected = learned + np.where(partnered[:, None, None], 3.0 / 12.0 * per_octave, 0.0)
        np.testing.assert_allclose(x["learned"], expected, atol=1e-5)
        mapped, own = mapped + partnered.sum(), own + (~partnered).sum()
    assert mapped and own  # this seed draws both kinds
    with pytest.raises(ParameterError, match=r"`partners_through_map` needs `encoder_partner_interval` > 0"):
        TrainConfig(partners_through_map=True, freeze_encoder=True)
    with pytest.raises(ParameterError, match=r"freeze_encoder=False"):
        TrainConfig(partners_through_map=True, encoder_partner_interval=4)
    with pytest.raises(ParameterError, match=r"`partners_through_map` needs weights that hold a transposition map"):
        train(config, PartneredTones(), tmp_path / "c", settings)


def test_a_pitch_conditioned_run_can_start_from_a_model_without_pitch_channels(tmp_path):
    first = train(CONFIG, Tones(), tmp_path / "a", _settings(5))
    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    started = train(config, PitchedTones(), tmp_path / "b", _settings(1), init_weights=tmp_path / "a" / "weights.npz")
    np.testing.assert_allclose(started.variables()["dilatedconv_2/W"], first.variables()["dilatedconv_2/W"], atol=0.01)
    assert started.variables()["ae_bottleneck/W"].shape[-1] == 14


def test_a_run_started_from_weights_with_a_transposition_map_drops_it(tmp_path):
    """The map belongs to the encoder it was fitted on, which training changes."""
    from nsynth_widgets.model.transposition import TranspositionMap

    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    rng = np.random.default_rng(0)
    widths = [3 * 16 + 1, 4, 14]
    layers = [(rng.normal(size=(a, b)), np.zeros(b)) for a, b in zip(widths, widths[1:])]
    first = NSynth(config)
    first.transposition_map = TranspositionMap(layers, 16, 14)
    init = first.save_weights(tmp_path / "with_map.npz")
    assert NSynth.from_weights(init).transposition_map is not None
    started = train(config, PitchedTones(), tmp_path / "b", _settings(1), init_weights=init)
    assert started.transposition_map is None
    assert NSynth.from_weights(tmp_path / "b" / "weights.npz").transposition_map is None


@pytest.mark.parametrize("pre_emphasis", [0.0, 0.85])
def test_a_run_with_the_encoder_frozen_changes_the_decoder_only_and_keeps_the_map(tmp_path, pre_emphasis):
    """Also when the decoder is to learn a pre-emphasized signal: the encoder, and so its map, stay."""
    import dataclasses

    from nsynth_widgets.model.transposition import TranspositionMap

    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    rng = np.random.default_rng(0)
    widths = [3 * 16 + 1, 4, 14]
    first = NSynth(config)
    first.transposition_map = TranspositionMap(
        [(rng.normal(size=(a, b)), np.zeros(b)) for a, b in zip(widths, widths[1:])], 16, 14
    )
    init = first.save_weights(tmp_path / "with_map.npz")
    settings = dataclasses.replace(_settings(3), freeze_encoder=True)
    trained = train(
        config.replace(pre_emphasis=pre_emphasis), PitchedTones(), tmp_path / "b", settings, init_weights=init
    )
    assert trained.config.pre_emphasis == pre_emphasis
    before, after = first.variables(), trained.variables()
    encoder = [name for name in before if name.startswith("ae_")]
    assert encoder and all(np.array_equal(before[name], after[name]) for name in encoder)
    assert not np.array_equal(before["dilatedconv_2/W"], after["dilatedconv_2/W"])
    kept = NSynth.from_weights(tmp_path / "b" / "weights.npz").transposition_map
    np.testing.assert_array_equal(kept.layers[0][0], first.transposition_map.layers[0][0])


def _loss_with_noisy_past(model, sigma, seed):
    """Teacher-forced cross-entropy when the decoder's past carries Gaussian noise of ``sigma`` code steps."""
    audio = Tones().random_crops(8, 512, np.random.default_rng(seed))
    x, targets = batch_to_inputs(audio)
    past = x + sigma / 128 * np.random.default_rng(seed + 1).normal(size=x.shape).astype(np.float32)
    net = model.keras_model
    logits = np.asarray(net.decode_logits(past, net.encode(x)), dtype=np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_p, targets[..., None], axis=-1).mean()


def test_input_noise_makes_the_decoder_robust_to_errors_in_its_past(tmp_path):
    settings = dataclasses.replace(
        _settings(INPUT_NOISE_STEPS), checkpoint_every=INPUT_NOISE_STEPS, eval_every=INPUT_NOISE_STEPS
    )
    clean = train(CONFIG, Tones(), tmp_path / "clean", settings, valid_data=Tones())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        noisy = train(
            CONFIG, Tones(), tmp_path / "noisy", dataclasses.replace(settings, input_noise=4.0), valid_data=Tones()
        )
    # both learned (a fresh model is at about 5.5 nats); only the noise-trained one holds up when its
    # past is off by a few code steps, as it is when the decoder feeds back its own samples
    assert _loss_with_noisy_past(clean, 0, 7) < 3.0 and _loss_with_noisy_past(noisy, 0, 7) < 3.0
    # on six batches: lower on every one, and by 0.05 nats on average (measured 0.09-0.13 per batch)
    gaps = np.array(
        [_loss_with_noisy_past(clean, 8, seed) - _loss_with_noisy_past(noisy, 8, seed) for seed in range(7, 13)]
    )
    assert (gaps > 0).all() and gaps.mean() > 0.05, gaps


def test_the_invariance_loss_is_each_channels_scale_free_mean_squared_difference():
    from nsynth_widgets.training.train import invariance_loss

    rng = np.random.default_rng(5)
    a = rng.normal(size=(2, 6, 3)).astype(np.float32)
    b = (a + 0.3 * rng.normal(size=a.shape)).astype(np.float32)
    per_channel = [
        np.mean((a[..., c] - b[..., c]) ** 2) / (0.5 * (a[..., c].var() + b[..., c].var()) + 1e-6) for c in range(3)
    ]
    np.testing.assert_allclose(float(invariance_loss(a, b)), np.mean(per_channel), rtol=1e-5)
    scaled = a * [1.0, 10.0, 0.1], b * [1.0, 10.0, 0.1]  # each channel's own scale
    np.testing.assert_allclose(float(invariance_loss(*scaled)), np.mean(per_channel), rtol=1e-4)
    assert float(invariance_loss(a, a)) == 0.0
    voicing = rng.uniform(size=(2, 6)).astype(np.float32)
    weighted = [
        np.sum(voicing * (a[..., c] - b[..., c]) ** 2)
        / np.sum(voicing)
        / (0.5 * (a[..., c].var() + b[..., c].var()) + 1e-6)
        for c in range(3)
    ]
    np.testing.assert_allclose(float(invariance_loss(a, b, voicing)), np.mean(weighted), rtol=1e-5)
    unvoiced = np.zeros((2, 6), np.float32)
    unvoiced[0, 2] = 1.0  # only this frame counts
    b_noise_elsewhere = a.copy()
    b_noise_elsewhere[1] += 5.0
    assert float(invariance_loss(a, b_noise_elsewhere, unvoiced)) < 1e-6


def test_the_invariance_term_makes_the_learned_channels_ignore_a_pitch_shift(tmp_path):
    """With the term on, the learned channels of a crop and of its shifted copy end up closer than
    they do after the same steps without it (and the reconstruction still trains)."""
    from nsynth_widgets.training import train as training

    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    settings = dataclasses.replace(_settings(80), crop_length=2048, checkpoint_every=80, eval_every=80)
    plain = train(config, PitchedTones(), tmp_path / "plain", settings, valid_data=PitchedTones())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        invariant = train(
            config,
            PitchedTones(),
            tmp_path / "invariant",
            dataclasses.replace(settings, invariance_weight=3.0, invariance_shift=5.0),
            valid_data=PitchedTones(),
        )
    tones = PitchedTones().random_crops(8, 2048, np.random.default_rng(12))
    shifted = training.shift_for_encoder(tones, 5.0, np.random.default_rng(13))

    def change(model):
        learned = [model.encode(x)[..., : config.learned_channels] for x in (tones, shifted)]
        return float(training.invariance_loss(*learned))

    assert change(invariant) < 0.5 * change(plain)
    log = [json.loads(line) for line in (tmp_path / "invariant" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["valid_loss"] < 5.0  # a fresh model is at about 5.5 nats
    with pytest.raises(ParameterError, match=r"`invariance_weight` must be 0 for a model without pitch channels"):
        train(CONFIG, Tones(), tmp_path / "no-pitch", dataclasses.replace(settings, invariance_weight=1.0))
    with pytest.raises(ParameterError, match=r"`invariance_shift` must be a number in \(0, 24\]"):
        TrainConfig(invariance_shift=0)
    with pytest.raises(ParameterError, match=r"`invariance_frames` must be one of \['all', 'voiced'\]"):
        TrainConfig(invariance_frames="unvoiced")


@pytest.mark.parametrize("frames", ["all", "voiced"])
def test_the_trainee_adds_the_invariance_term_over_the_chosen_frames(frames):
    from nsynth_widgets.training import train as training

    config = CONFIG.replace(name="train-test-pitch", excitation_harmonics=2)
    model = NSynth(config)
    rng = np.random.default_rng(6)
    audio, pitch = PitchedTones().random_crops(2, 1024, rng, with_pitch_channels=True)
    pitch[0, 4:, 1] = 0.0  # part of a crop unvoiced: the voiced mode must not count it
    shifted = training.shift_for_encoder(audio, 5.0, rng)
    inputs, _ = model_inputs(config, audio, pitch, shifted_audio=shifted)
    trainee = training._trainee(model.keras_model, 0.0, 0, invariance_weight=2.5, invariance_frames=frames)
    trainee(inputs, training=True)
    learned, moved = (model.encode(x)[..., : config.learned_channels] for x in (audio, shifted))
    weights = pitch[..., 1] if frames == "voiced" else np.ones(pitch.shape[:2])
    spread = 0.5 * (learned.var(axis=(0, 1)) + moved.var(axis=(0, 1))) + 1e-6
    difference = np.sum(weights[..., None] * (learned - moved) ** 2, axis=(0, 1)) / np.sum(weights)
    [term] = trainee.losses
    np.testing.assert_allclose(float(term), 2.5 * np.mean(difference / spread), rtol=1e-4)
    trainee(inputs, training=False)
    assert not trainee.losses  # evaluation steps measure the reconstruction only
