"""Speed and memory of encoding and generation; prints a Markdown table.

    python benchmarks/bench_generation.py [--quick] [--cases h512-b1,h512-b16,embedded-b1,...]

Each case runs in a fresh subprocess so that its peak RSS is its own. Random weights are used
(speed does not depend on their values); the equivalence columns compare the fast generator with
the teacher-forced Keras decoder on the same weights (max |Δ logit| over 1024 primed steps).

Floors (what the hardware allows at best) follow DESIGN.md §4: a step must read every decoder
weight once (31 GB/s from DRAM on two cores, or the cache when the weights fit in L2+L3) and do
2 FLOP per weight per batch item (≈ 330 GFLOP/s fp32 on two cores).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CASES = {
    # name: (config, batch, seconds of audio generated)
    "h512-b1": ("h512_bo16", 1, 0.1),
    "h512-b16": ("h512_bo16", 16, 0.05),
    "embedded-b1": ("embedded", 1, 4.0),
    "embedded-b8": ("embedded", 8, 1.0),
}
DRAM_BYTES_PER_S = 31e9
CACHE_BYTES_PER_S = 140e9  # weights resident in L2/L3
CACHE_BYTES = 2 * 2 * 2**20 + 32 * 2**20
FLOPS_PER_S = 330e9


def _config(name):
    from nsynth_widgets.model.config import EMBEDDED, H512_BO16

    return {"h512_bo16": H512_BO16, "embedded": EMBEDDED}[name]


def _run_case(name):
    """Measure one case in this process; returns a dict (printed as JSON by the child)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import resource

    import numpy as np

    from nsynth_widgets.model import fastgen
    from nsynth_widgets.model.checkpoint import expected_variables

    config_name, batch, seconds = CASES[name]
    config = _config(config_name)
    rng = np.random.default_rng(0)
    arrays = {n: rng.normal(0, 0.05, s).astype(np.float32) for n, s in expected_variables(config).items()}
    weights = fastgen.DecoderWeights.from_arrays(arrays, config)
    n_steps = int(seconds * config.sample_rate)
    frames = -(-n_steps // config.hop_length) + 1
    encoding = rng.normal(size=(batch, frames, config.bottleneck_width)).astype(np.float32)
    decoder = fastgen.IncrementalDecoder(weights, encoding)
    decoder.step(64, rng=rng)  # compile / warm caches
    start = time.perf_counter()
    decoder.step(n_steps, rng=rng)
    elapsed = time.perf_counter() - start
    rate = batch * n_steps / elapsed
    decoder_bytes = sum(a.nbytes for a in (weights.dilated_w, weights.res_skip_w, weights.skip_start_w,
                                            weights.out1_w, weights.logits_w))
    flops_per_sample = 2 * decoder_bytes / 4
    bandwidth = CACHE_BYTES_PER_S if decoder_bytes < CACHE_BYTES else DRAM_BYTES_PER_S
    step_floor = max(decoder_bytes / bandwidth, batch * flops_per_sample / FLOPS_PER_S)
    floor_rate = batch / step_floor
    return {
        "case": name, "config": config.name, "dtype": "float32", "batch": batch,
        "samples_per_s": rate, "x_real_time": rate / batch / config.sample_rate,
        "seconds_for_4s": 4 * config.sample_rate / (rate / batch),
        "floor_pct": 100 * rate / floor_rate, "weights_mb": decoder_bytes / 1e6,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_equivalence(config_name):
    """Max |Δ logit| between the fast generator and the teacher-forced Keras decoder."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    from nsynth_widgets.model import fastgen
    from nsynth_widgets.model.checkpoint import expected_variables
    from nsynth_widgets.model.nsynth import NSynth, classes_to_audio

    config = _config(config_name)
    rng = np.random.default_rng(1)
    arrays = {n: rng.normal(0, 0.05, s).astype(np.float32) for n, s in expected_variables(config).items()}
    model = NSynth(config, arrays)
    steps = 2 * config.hop_length
    classes = rng.integers(0, 256, (1, steps)).astype(np.int32)
    encoding = rng.normal(size=(1, 2, config.bottleneck_width)).astype(np.float32)
    expected = model.decode_logits(classes_to_audio(classes), encoding)
    got = fastgen.IncrementalDecoder(model.decoder_weights, encoding).step(steps, forced=classes, record_logits=True)
    return {"config": config.name, "max_abs_logit_error": float(np.abs(got - expected).max()),
            "logit_scale": float(np.abs(expected).max())}


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
    print("\n| config | fast path vs teacher-forced: max abs logit error | logit scale |\n|---|---:|---:|")
    for config in ("embedded", "h512_bo16"):
        r = _child("equivalence", config)
        print(f"| {r['config']} | {r['max_abs_logit_error']:.2e} | {r['logit_scale']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
