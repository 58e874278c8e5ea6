"""Speed and memory of encoding and generation, against floors measured in the same run; prints Markdown.

    python benchmarks/bench_generation.py [--cases h512-b1,h512-b1-int8,...] [--threads 1] [--repeat 3]
        [--fastgen [HARNESS_DIR]]

First it probes this host: DRAM read bandwidth (a streaming sum over 512 MiB on one thread, then on
two), the float32 multiply-add rate (register-resident FMAs) and the int8 × int8 rate (the VNNI
kernel on an L1-resident matrix), one and two threads, best of five each. Each case's *floor* is the
tighter of two bounds: every decoder weight read once per step at the probed bandwidth (when the
weights do not fit in the L3 cache), or every multiply-add done at the probed rate (int8 × int8 for
w8a8, float32 otherwise). The table gives samples/s, × real time, and the fraction of that floor.

Each case runs in a fresh subprocess, so that its peak RSS is its own. Random weights are used
(speed does not depend on their values). ``--fastgen`` also times magenta's own fastgen (h512_bo16,
batch 1) through the shared reference harness (``../shared/reference/magenta``, built by its
``setup_magenta.sh``; the magenta venv is looked up under ``$NSYNTH_REFERENCE_DIR``, default
``/tmp/nsynth-reference``) and prints each h512 batch-1 case's ratio to it.

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
import statistics
import subprocess
import sys
import threading
import time

CASES = {
    # name: (config, batch, seconds of audio generated, precision)
    "h512-b1": ("h512_bo16", 1, 0.1, "float32"),
    "h512-b1-int8": ("h512_bo16", 1, 0.25, "int8"),
    "h512-b16": ("h512_bo16", 16, 0.05, "float32"),
    "h512-b16-int8": ("h512_bo16", 16, 0.05, "int8"),
    "h512-b1-w8a8": ("h512_bo16", 1, 0.25, "w8a8"),
    "h512-b16-w8a8": ("h512_bo16", 16, 0.1, "w8a8"),
    "embedded-b1": ("embedded", 1, 4.0, "float32"),
    "embedded-b1-int8": ("embedded", 1, 4.0, "int8"),
    "embedded-b1-w8a8": ("embedded", 1, 4.0, "w8a8"),
    "embedded-b8": ("embedded", 8, 1.0, "float32"),
    "embedded-b8-w8a8": ("embedded", 8, 1.0, "w8a8"),
    # candidate decoder widths of the embedded model (the model card's size table)
    **{
        f"w{width}-b1{suffix}": (f"embedded_w{width}", 1, 4.0, precision)
        for width in (32, 96, 128)
        for suffix, precision in (("", "float32"), ("-int8", "int8"))
    },
}
DEFAULT_CASES = (
    "h512-b1,h512-b1-int8,h512-b1-w8a8,h512-b16,h512-b16-int8,h512-b16-w8a8,embedded-b1,embedded-b1-int8,"
    "embedded-b1-w8a8,embedded-b8,embedded-b8-w8a8"
)
PROBE_BYTES = 512 * 2**20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(name):
    """``"h512_bo16"``, ``"embedded"`` or ``"embedded_wN"``: the embedded model with decoder width N, as
    ``nsynth-widgets train --width N`` builds it."""
    from nsynth_widgets.model.config import EMBEDDED, H512_BO16

    if name.startswith("embedded_w"):
        width = int(name.removeprefix("embedded_w"))
        return EMBEDDED.replace(name=name, width=width, skip_width=width)
    return {"h512_bo16": H512_BO16, "embedded": EMBEDDED}[name]


def _on_threads(function, shares):
    """Seconds for ``function(*share)`` on one thread per share, all started together."""
    workers = [threading.Thread(target=function, args=share) for share in shares]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def _run_probe():
    """This host's read bandwidth (bytes/s) and float32 multiply-add rate (FMA/s), 1 and 2 threads."""
    import numba
    import numpy as np

    @numba.njit(nogil=True, fastmath=True)
    def read(rows):  # stream every byte once; 256 floats of accumulators stay in L1
        acc = np.zeros(rows.shape[1], np.float32)
        for i in range(rows.shape[0]):
            row = rows[i]
            for j in range(acc.shape[0]):
                acc[j] += row[j]
        return acc.sum()

    @numba.njit(nogil=True, fastmath=True)
    def multiply_add(n):  # 256 independent accumulators: sixteen 16-wide registers
        acc = np.arange(256).astype(np.float32)
        for _ in range(n):
            for j in range(256):
                acc[j] = acc[j] * np.float32(0.9999) + np.float32(1e-4)
        return acc.sum()

    from nsynth_widgets.model import _simd

    @numba.njit(nogil=True)
    def int8_dots(xq, packed, out, n):  # the step loop's int8 x int8 kernel on an L1-resident matrix
        for _ in range(n):
            _simd.product_int8(xq, 0, packed, 0, xq.shape[1], out)

    data = np.ones((PROBE_BYTES // 1024, 256), np.float32)
    halves = (data[: len(data) // 2], data[len(data) // 2 :])
    read(data[:4])
    multiply_add(1)
    xq = np.ones((16, 256), np.int8)
    packed = _simd.interleave_rows(_simd.to_panels(np.ones((256, 64), np.int8)))
    dots = [(xq, packed, np.empty((16, 64), np.int32), 20_000) for _ in range(2)]
    int8_dots(*dots[0][:3], 1)
    n = 4_000_000
    result = {"read_1": 0.0, "read_2": 0.0, "fma_1": 0.0, "fma_2": 0.0, "int8_1": 0.0, "int8_2": 0.0}
    for _ in range(5):
        result["read_1"] = max(result["read_1"], data.nbytes / _on_threads(read, [(data,)]))
        result["read_2"] = max(result["read_2"], data.nbytes / _on_threads(read, [(h,) for h in halves]))
        result["fma_1"] = max(result["fma_1"], 256 * n / _on_threads(multiply_add, [(n,)]))
        result["fma_2"] = max(result["fma_2"], 2 * 256 * n / _on_threads(multiply_add, [(n,), (n,)]))
        macs = 16 * 256 * 64 * 20_000
        result["int8_1"] = max(result["int8_1"], macs / _on_threads(int8_dots, dots[:1]))
        result["int8_2"] = max(result["int8_2"], 2 * macs / _on_threads(int8_dots, dots))
    result["l3_bytes"] = _l3_bytes()
    result["vnni"] = _simd.HAS_VNNI
    return result


def _l3_bytes():
    try:
        return os.sysconf("SC_LEVEL3_CACHE_SIZE") or 32 * 2**20
    except (ValueError, OSError):
        return 32 * 2**20


def _run_case(name, threads):
    """Measure one case in this process; returns a dict (printed as JSON by the child)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import resource

    import numpy as np

    from nsynth_widgets.model import fastgen
    from nsynth_widgets.model.checkpoint import expected_variables

    config_name, batch, seconds, precision = CASES[name]
    config = _config(config_name)
    rng = np.random.default_rng(0)
    arrays = {
        n: rng.normal(0, 0.05, s).astype(np.float32)
        for n, s in expected_variables(config).items()
        if not n.startswith("ae_")
    }
    weights = fastgen.DecoderWeights.from_arrays(arrays, config)
    del arrays
    weights = {"float32": weights, "int8": weights.quantize_int8, "w8a8": weights.quantize_w8a8}[precision]
    if precision != "float32":
        weights = weights()
    n_steps = int(seconds * config.sample_rate)
    frames = -(-n_steps // config.hop_length) + 1
    encoding = rng.normal(size=(batch, frames, config.bottleneck_width)).astype(np.float32)
    if config.pitch_conditioned:  # a plausible pitch: 110-440 Hz, voiced
        encoding[..., config.f0_channel] = rng.uniform(-2.0, 0.0, (batch, frames))
        encoding[..., config.voicing_channel] = 1.0
    decoder = fastgen.IncrementalDecoder(weights, encoding, threads=threads)
    decoder.step(64, rng=rng)  # compile / warm caches
    start = time.perf_counter()
    decoder.step(n_steps, rng=rng)
    elapsed = time.perf_counter() - start
    w = weights
    matrices = (w.skip_start_w, w.dilated_w, w.exc_w, w.res_w, w.skip_w, w.out1_w, w.logits_w)
    return {
        "case": name,
        "config": config.name,
        "dtype": precision,
        "batch": batch,
        "threads": decoder.threads,
        "samples_per_s": batch * n_steps / elapsed,
        "sample_rate": config.sample_rate,
        "weight_bytes": sum(a.nbytes for a in matrices),
        "macs_per_sample": sum(a.size for a in matrices),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _floor(case, probe):
    """Samples/s this host allows at best, and what bounds it."""
    rate = probe["int8_2"] if case["dtype"] == "w8a8" else probe["fma_2"]
    bounds = {"arithmetic": rate / case["macs_per_sample"]}
    if case["weight_bytes"] > probe["l3_bytes"]:
        bounds["memory"] = case["batch"] * probe["read_2"] / case["weight_bytes"]
    bound = min(bounds, key=bounds.get)
    return bounds[bound], bound


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
        config = model.config  # the shipped weights' own configuration
        audio = np.asarray(load_example(sorted(examples())[0]), np.float32)[None, : 8 * config.hop_length]
        encoding = model.encode(audio)
        # the generator is forced with the classes of the decoder's signal (pre-emphasized, if so configured)
        classes = codes_to_classes(mu_law_encode(config.decoder_signal(audio)))
        weights_source = "shipped weights, bundled note"
    else:
        arrays = {n: rng.normal(0, 0.05, s).astype(np.float32) for n, s in expected_variables(config).items()}
        model = NSynth(config, arrays)
        classes = rng.integers(0, 256, (1, 4 * config.hop_length)).astype(np.int32)
        audio = classes_to_audio(classes)
        encoding = rng.normal(size=(1, 4, config.bottleneck_width)).astype(np.float32)
        weights_source = "random weights N(0, 0.05)"
    steps = classes.shape[1]

    def fast(precision):
        decoder = fastgen.IncrementalDecoder(model.generation_weights(precision), encoding)
        return decoder.step(steps, forced=classes, record_logits=True).astype(np.float64)

    def log_softmax(logits):
        shifted = logits - logits.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    expected = model.decode_logits(audio, encoding)  # the model derives the same classes from the audio
    int8_model = NSynth(config, fastgen.int8_equivalent_arrays(model.variables(), config))
    expected_int8 = int8_model.decode_logits(audio, encoding)
    exact = log_softmax(expected.astype(np.float64))
    result = {
        "config": config.name,
        "weights": weights_source,
        "steps": steps,
        "float32_error": float(np.abs(fast("float32") - expected).max()),
        "int8_vs_dequantized_error": float(np.abs(fast("int8") - expected_int8).max()),
        "logit_scale": float(np.abs(expected).max()),
    }
    for precision in ("int8", "w8a8"):
        approx = log_softmax(fast(precision))
        kl = (np.exp(exact) * (exact - approx)).sum(axis=-1)
        total_variation = 0.5 * np.abs(np.exp(exact) - np.exp(approx)).sum(axis=-1)
        result.update(
            {
                f"{precision}_kl_mean": float(kl.mean()),
                f"{precision}_kl_max": float(kl.max()),
                f"{precision}_tv_mean": float(total_variation.mean()),
                f"{precision}_tv_max": float(total_variation.max()),
            }
        )
    return result


def _run_encode(config_name, precision="float32"):
    """Seconds to encode 4 s of audio once the model is loaded (best of three calls after the first),
    and how far bfloat16's learned channels are from float32's (relative RMS)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import resource

    import numpy as np

    from nsynth_widgets.model.nsynth import NSynth

    model = NSynth(_config(config_name))
    audio = np.random.default_rng(2).uniform(-0.5, 0.5, 64000).astype(np.float32)
    encoding = model.encode(audio, precision=precision)
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        model.encode(audio, precision=precision)
        seconds.append(time.perf_counter() - start)
    exact = model.encode(audio)
    return {
        "config": model.config.name,
        "precision": precision,
        "relative_rms_error": float(np.sqrt(np.mean((encoding - exact) ** 2) / np.mean(exact**2))),
        "encode_4s_seconds": min(seconds),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(kind, *args):
    command = [sys.executable, __file__, "--child", kind, *map(str, args)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _magenta_fastgen(harness):
    """magenta's fastgen at batch 1 (samples/s), timed by the shared harness in its own venv."""
    reference = os.environ.get("NSYNTH_REFERENCE_DIR", "/tmp/nsynth-reference")
    python = os.path.join(reference, "magenta-venv", "bin", "python")
    script = os.path.join(harness, "fastgen_time.py")
    for path, how in ((script, "the harness"), (python, f"the magenta venv (bash {harness}/setup_magenta.sh)")):
        if not os.path.exists(path):
            sys.exit(f"--fastgen needs {how}: {path} does not exist.")
    out = subprocess.run([python, script], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _spread(values, fmt):
    """The median, and the range when there is more than one value."""
    text = format(statistics.median(values), fmt)
    return text if len(values) == 1 else f"{text} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=DEFAULT_CASES, help="comma-separated subset of " + ", ".join(CASES))
    parser.add_argument("--threads", type=int, choices=(1, 2), help="threads per decoder (default: the decoder's)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case (median and range printed)")
    parser.add_argument(
        "--fastgen",
        nargs="?",
        const=os.path.join(ROOT, "..", "shared", "reference", "magenta"),
        metavar="HARNESS_DIR",
        help="also time magenta's fastgen (default: %(const)s)",
    )
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: encode, equivalence")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "case":
            result = _run_case(rest[0], None if rest[1] == "None" else int(rest[1]))
        else:
            result = {"probe": _run_probe, "equivalence": _run_equivalence, "encode": _run_encode}[kind](*rest)
        print(json.dumps(result))
        return
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M')}; load average {load:.2f}\n"
    )
    probe = _child("probe")
    print(
        f"probes (best of 5): DRAM read {probe['read_1'] / 1e9:.1f} GB/s on one thread, "
        f"**{probe['read_2'] / 1e9:.1f} GB/s** on two; float32 FMA {probe['fma_1'] / 1e9:.1f} G/s on one "
        f"thread, **{probe['fma_2'] / 1e9:.1f} G/s** on two; int8 x int8 multiply-adds ({'VNNI' if probe['vnni'] else 'no VNNI'}, "
        f"L1-resident) {probe['int8_1'] / 1e9:.0f} G/s on one thread, **{probe['int8_2'] / 1e9:.0f} G/s** on two; "
        f"L3 {probe['l3_bytes'] / 2**20:.0f} MiB\n"
    )
    fastgen_rate = None
    if args.fastgen:
        fastgen_rate = _magenta_fastgen(os.path.normpath(args.fastgen))
        print(f"magenta fastgen (h512_bo16, batch 1, its own harness): **{fastgen_rate:.1f} samples/s**\n")
    print(
        "| case | config | dtype | batch | threads | samples/s | × real time | 4 s of audio takes | floor (bound) "
        "| fraction of floor | × magenta fastgen | peak RSS |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.cases.split(","):
        runs = [_child("case", name, args.threads) for _ in range(args.repeat)]
        r = runs[0]
        rates = [run["samples_per_s"] for run in runs]
        floor, bound = _floor(r, probe)
        ratio = "—"
        if fastgen_rate and r["config"] == "h512_bo16" and r["batch"] == 1:
            ratio = _spread([rate / fastgen_rate for rate in rates], ".1f")
        print(
            f"| {name} | {r['config']} | {r['dtype']} | {r['batch']} | {r['threads']} | {_spread(rates, ',.0f')} | "
            f"{_spread([x / r['batch'] / r['sample_rate'] for x in rates], '.3f')} | "
            f"{_spread([4 * r['sample_rate'] * r['batch'] / x for x in rates], ',.2f')} s | "
            f"{floor:,.0f} ({bound}) | {_spread([x / floor for x in rates], '.2f')} | {ratio} | "
            f"{max(run['peak_rss_mib'] for run in runs):,.0f} MiB |",
            flush=True,
        )
    skip = set(filter(None, args.skip.split(",")))
    if "encode" not in skip:
        print(
            "\n| config | precision | encode 4 s (after load, best of 3) | learned channels vs float32 (relative RMS) "
            "| peak RSS |\n|---|---|---:|---:|---:|"
        )
        for config in ("embedded", "h512_bo16"):
            for precision in ("float32", "bfloat16"):
                r = _child("encode", config, precision)
                print(
                    f"| {r['config']} | {precision} | {r['encode_4s_seconds']:.2f} s | {r['relative_rms_error']:.1e} "
                    f"| {r['peak_rss_mib']:,.0f} MiB |",
                    flush=True,
                )
    if "equivalence" not in skip:
        print(
            "\n| config (weights, teacher-forced steps) | float32 vs Keras: max abs logit error | int8 vs Keras with "
            "dequantized weights | logit scale | int8 vs float32: KL mean / max (nats), TV mean / max | "
            "w8a8 vs float32: KL mean / max, TV mean / max |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for config in ("embedded", "h512_bo16"):
            r = _child("equivalence", config)
            quantized = [
                f"{r[p + '_kl_mean']:.1e} / {r[p + '_kl_max']:.1e}, {r[p + '_tv_mean']:.3f} / {r[p + '_tv_max']:.3f}"
                for p in ("int8", "w8a8")
            ]
            print(
                f"| {r['config']} ({r['weights']}, {r['steps']}) | {r['float32_error']:.2e} | "
                f"{r['int8_vs_dequantized_error']:.2e} | {r['logit_scale']:.1f} | {quantized[0]} | {quantized[1]} |",
                flush=True,
            )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
