"""Speed and memory of encoding and generation; prints a Markdown table.

    python benchmarks/bench_generation.py [--cases h512-b1,h512-b1-int8,embedded-b1,...]

The ``wN-*`` cases are the embedded model's candidate decoder widths (the model card's size table).
Each case runs in a fresh subprocess so that its peak RSS is its own. Random weights are used
(speed does not depend on their values); the equivalence columns compare the fast generator with
the teacher-forced Keras decoder on the same weights (max |Δ logit| over 1024 primed steps).

Floors (what the hardware allows at best) follow DESIGN.md §4: a step must read every decoder
weight once (31 GB/s from DRAM on two cores, or the cache when the weights fit in L2+L3) and do
2 FLOP per weight per batch item (≈ 330 GFLOP/s fp32 on two cores). int8 weights are a quarter
of the bytes, so their floor is up to four times higher.

The equivalence table checks every fast path: float32 against the teacher-forced Keras decoder,
int8 against the teacher-forced decoder with the dequantized weights (exactness of the kernel)
and against float32 (the cost of quantization: KL divergence and total variation between the
step distributions). The embedded model uses its shipped weights on a bundled note, h512 uses
random weights.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CASES = {
    # name: (config, batch, seconds of audio generated, precision)
    "h512-b1": ("h512_bo16", 1, 0.1, "float32"),
    "h512-b1-int8": ("h512_bo16", 1, 0.25, "int8"),
    "h512-b16": ("h512_bo16", 16, 0.05, "float32"),
    "h512-b16-int8": ("h512_bo16", 16, 0.05, "int8"),
    "embedded-b1": ("embedded", 1, 4.0, "float32"),
    "embedded-b1-int8": ("embedded", 1, 4.0, "int8"),
    "embedded-b8": ("embedded", 8, 1.0, "float32"),
    # candidate decoder widths of the embedded model (the model card's size table)
    **{f"w{width}-b1{suffix}": (f"embedded_w{width}", 1, 4.0, precision)
       for width in (32, 96, 128) for suffix, precision in (("", "float32"), ("-int8", "int8"))},
}
DRAM_BYTES_PER_S = 31e9
CACHE_BYTES_PER_S = 140e9  # weights resident in L2/L3
CACHE_BYTES = 2 * 2 * 2**20 + 32 * 2**20
FLOPS_PER_S = 330e9


def _config(name):
    """``"h512_bo16"``, ``"embedded"`` or ``"embedded_wN"``: the embedded model with decoder width N, as
    ``nsynth-widgets train --width N`` builds it."""
    from nsynth_widgets.model.config import EMBEDDED, H512_BO16

    if name.startswith("embedded_w"):
        width = int(name.removeprefix("embedded_w"))
        return EMBEDDED.replace(name=name, width=width, skip_width=width)
    return {"h512_bo16": H512_BO16, "embedded": EMBEDDED}[name]


def _run_case(name):
    """Measure one case in this process; returns a dict (printed as JSON by the child)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import resource

    import numpy as np

    from nsynth_widgets.model import fastgen
    from nsynth_widgets.model.checkpoint import expected_variables

    config_name, batch, seconds, precision = CASES[name]
    config = _config(config_name)
    rng = np.random.default_rng(0)
    arrays = {n: rng.normal(0, 0.05, s).astype(np.float32) for n, s in expected_variables(config).items()}
    weights = fastgen.DecoderWeights.from_arrays(arrays, config)
    if precision == "int8":
        weights = weights.quantize_int8()
    n_steps = int(seconds * config.sample_rate)
    frames = -(-n_steps // config.hop_length) + 1
    encoding = rng.normal(size=(batch, frames, config.bottleneck_width)).astype(np.float32)
    decoder = fastgen.IncrementalDecoder(weights, encoding)
    decoder.step(64, rng=rng)  # compile / warm caches
    start = time.perf_counter()
    decoder.step(n_steps, rng=rng)
    elapsed = time.perf_counter() - start
    rate = batch * n_steps / elapsed
    matrices = (weights.dilated_w, weights.res_skip_w, weights.skip_start_w, weights.out1_w, weights.logits_w)
    decoder_bytes = sum(a.nbytes for a in matrices)
    flops_per_sample = 2 * sum(a.size for a in matrices)
    bandwidth = CACHE_BYTES_PER_S if decoder_bytes < CACHE_BYTES else DRAM_BYTES_PER_S
    step_floor = max(decoder_bytes / bandwidth, batch * flops_per_sample / FLOPS_PER_S)
    floor_rate = batch / step_floor
    return {
        "case": name, "config": config.name, "dtype": precision, "batch": batch,
        "samples_per_s": rate, "x_real_time": rate / batch / config.sample_rate,
        "seconds_for_4s": 4 * config.sample_rate / (rate / batch),
        "floor_pct": 100 * rate / floor_rate, "weights_mb": decoder_bytes / 1e6,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_equivalence(config_name):
    """Errors of the float32 and int8 generators against teacher-forced Keras decoders."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from nsynth_widgets.dsp.mulaw import codes_to_classes, mu_law_encode
    from nsynth_widgets.example_sounds import examples, load_example
    from nsynth_widgets.model import fastgen
    from nsynth_widgets.model.checkpoint import expected_variables
    from nsynth_widgets.model.nsynth import NSynth, classes_to_audio

    config = _config(config_name)
    rng = np.random.default_rng(1)
    if config_name == "embedded":
        model = NSynth.default()
        audio = np.asarray(load_example(sorted(examples())[0]), np.float32)[None, : 8 * config.hop_length]
        encoding = model.encode(audio)
        classes = codes_to_classes(mu_law_encode(audio))
        weights_source = "shipped weights, bundled note"
    else:
        arrays = {n: rng.normal(0, 0.05, s).astype(np.float32) for n, s in expected_variables(config).items()}
        model = NSynth(config, arrays)
        classes = rng.integers(0, 256, (1, 4 * config.hop_length)).astype(np.int32)
        encoding = rng.normal(size=(1, 4, config.bottleneck_width)).astype(np.float32)
        weights_source = "random weights N(0, 0.05)"
    steps = classes.shape[1]

    def fast(precision):
        decoder = fastgen.IncrementalDecoder(model.generation_weights(precision), encoding)
        return decoder.step(steps, forced=classes, record_logits=True).astype(np.float64)

    def log_softmax(logits):
        shifted = logits - logits.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    expected = model.decode_logits(classes_to_audio(classes), encoding)
    int8_model = NSynth(config, fastgen.int8_equivalent_arrays(model.variables(), config))
    expected_int8 = int8_model.decode_logits(classes_to_audio(classes), encoding)
    exact, approx = log_softmax(expected.astype(np.float64)), log_softmax(fast("int8"))
    kl = (np.exp(exact) * (exact - approx)).sum(axis=-1)
    total_variation = 0.5 * np.abs(np.exp(exact) - np.exp(approx)).sum(axis=-1)
    return {
        "config": config.name, "weights": weights_source, "steps": steps,
        "float32_error": float(np.abs(fast("float32") - expected).max()),
        "int8_vs_dequantized_error": float(np.abs(fast("int8") - expected_int8).max()),
        "logit_scale": float(np.abs(expected).max()),
        "int8_kl_mean": float(kl.mean()), "int8_kl_max": float(kl.max()),
        "int8_tv_mean": float(total_variation.mean()), "int8_tv_max": float(total_variation.max()),
    }


def _run_encode(config_name):
    """Seconds to encode 4 s of audio once the model is loaded (second call)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import resource

    import numpy as np

    from nsynth_widgets.model.nsynth import NSynth

    model = NSynth(_config(config_name))
    audio = np.random.default_rng(2).uniform(-0.5, 0.5, 64000).astype(np.float32)
    model.encode(audio)
    start = time.perf_counter()
    model.encode(audio)
    return {"config": model.config.name, "encode_4s_seconds": time.perf_counter() - start,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(kind, arg):
    out = subprocess.run([sys.executable, __file__, "--child", kind, arg], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ", ".join(CASES))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, arg = args.child
        runner = {"case": _run_case, "equivalence": _run_equivalence, "encode": _run_encode}[kind]
        print(json.dumps(runner(arg)))
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"python {platform.python_version()}; {time.strftime('%Y-%m-%d')}\n")
    print("| case | config | dtype | batch | samples/s | × real time | 4 s of audio takes | % of floor | peak RSS |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.cases.split(","):
        r = _child("case", name)
        print(f"| {r['case']} | {r['config']} | {r['dtype']} | {r['batch']} | {r['samples_per_s']:,.0f} | "
              f"{r['x_real_time']:.3f} | {r['seconds_for_4s']:,.1f} s | {r['floor_pct']:.0f} % | "
              f"{r['peak_rss_mib']:,.0f} MiB |", flush=True)
    print("\n| config | encode 4 s (after load) | peak RSS |\n|---|---:|---:|")
    for config in ("embedded", "h512_bo16"):
        r = _child("encode", config)
        print(f"| {r['config']} | {r['encode_4s_seconds']:.2f} s | {r['peak_rss_mib']:,.0f} MiB |", flush=True)
    print("\n| config (weights, teacher-forced steps) | float32 vs Keras: max abs logit error | int8 vs Keras with "
          "dequantized weights | logit scale | int8 vs float32: KL mean / max (nats) | total variation mean / max |")
    print("|---|---:|---:|---:|---:|---:|")
    for config in ("embedded", "h512_bo16"):
        r = _child("equivalence", config)
        print(f"| {r['config']} ({r['weights']}, {r['steps']}) | {r['float32_error']:.2e} | "
              f"{r['int8_vs_dequantized_error']:.2e} | {r['logit_scale']:.1f} | {r['int8_kl_mean']:.1e} / "
              f"{r['int8_kl_max']:.1e} | {r['int8_tv_mean']:.3f} / {r['int8_tv_max']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
