"""Grid rendering: points/s in-process against a LocalCluster of worker processes, and the cost of one batch.

    python benchmarks/bench_grid.py [--resolution 4] [--seconds 1] [--batch-size 4] [--workers 2]

One run, one grid (the embedded model, four bundled examples as corners), rendered three ways:

* ``local``: ``render_grid(scheduler="local")``, in this process;
* ``processes, cold``: ``render_grid(scheduler="processes")``, the cluster's start and every worker's model
  load included (what one command costs);
* ``processes, warm``: the same grid on a LocalCluster whose workers already hold the model (a small grid
  first), i.e. the rate a long grid settles at.

Then the cost of one batch of 16 sounds of 4 s (Open NSynth Super's length), the figure to size a cluster
with: generation costs the same per step all along, so it is measured on a shorter clip and scaled. The
embedded model runs its shipped weights; h512_bo16 (the published model, whose checkpoint is not bundled) runs
random weights through the same generator (speed does not depend on their values).
"""

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

#: Open NSynth Super's published set: 4 instruments per corner (256 combinations), a 9×9 grid, 16 pitches.
ONS_SOUNDS = 4**4 * 9 * 9 * 16
ONS_SECONDS = 4.0
BATCH = 16


def _grid(out_dir, scheduler, args, workers=None):
    from nsynth_widgets.example_sounds import examples
    from nsynth_widgets.grid import render_grid

    corners = [examples()[name] for name in ("guitar_E3", "organ_C4", "marimba_G4", "ocarina_C5")]
    start = time.perf_counter()
    result = render_grid(
        corners,
        out_dir,
        resolution=args.resolution,
        seconds=args.seconds,
        model="default",
        batch_size=args.batch_size,
        scheduler=scheduler,
        workers=workers or args.workers,
    )
    elapsed = time.perf_counter() - start
    assert result.complete and len(result.written) == args.resolution**2
    return elapsed, result


def _batch_cost(config_name, precision, clip_seconds):
    """Seconds for one batch of 16 sounds of 4 s, from a ``clip_seconds`` clip."""
    import numpy as np

    from nsynth_widgets.model import fastgen
    from nsynth_widgets.model.checkpoint import expected_variables
    from nsynth_widgets.model.config import H512_BO16
    from nsynth_widgets.model.nsynth import NSynth

    if config_name == "embedded":
        model = NSynth.default()
        config, weights = model.config, model.generation_weights(precision)
    else:
        config = H512_BO16
        rng = np.random.default_rng(0)
        arrays = {n: rng.normal(0, 0.05, s).astype(np.float32) for n, s in expected_variables(config).items()}
        weights = fastgen.DecoderWeights.from_arrays(arrays, config)
        if precision == "int8":
            weights = weights.quantize_int8()
    frames = round(clip_seconds * config.sample_rate / config.hop_length)
    encoding = np.random.default_rng(1).normal(size=(BATCH, frames, config.bottleneck_width)).astype(np.float32)
    fastgen.generate(weights, encoding[:, :1], seed=0)  # compile / warm caches
    start = time.perf_counter()
    fastgen.generate(weights, encoding, seed=0)
    per_step = (time.perf_counter() - start) / (frames * config.hop_length)
    return config.name, per_step * ONS_SECONDS * config.sample_rate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-batch-cost", action="store_true", help="skip the per-batch cost table")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from distributed import Client, LocalCluster

    points = args.resolution**2
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M')}; "
        f"load average at start {os.getloadavg()[0]:.1f} (other work on the machine slows every row)\n"
    )
    print(
        f"grid: embedded model, {args.resolution}×{args.resolution} points of {args.seconds:g} s, "
        f"batches of {args.batch_size}, {args.workers} worker processes\n"
    )
    print("| scheduler | wall time | points/s | vs local |\n|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        local, _ = _grid(tmp / "local", "local", args)
        print(f"| local | {local:.1f} s | {points / local:.2f} | 1.00 |", flush=True)
        cold, _ = _grid(tmp / "cold", "processes", args)
        print(f"| processes, cold | {cold:.1f} s | {points / cold:.2f} | {local / cold:.2f} |", flush=True)
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster),
        ):
            warm_up = argparse.Namespace(**{**vars(args), "resolution": 2, "batch_size": 1})
            _grid(tmp / "warm-up", cluster.scheduler_address, warm_up)
            warm, _ = _grid(tmp / "warm", cluster.scheduler_address, args)
        print(f"| processes, warm | {warm:.1f} s | {points / warm:.2f} | {local / warm:.2f} |", flush=True)
    if args.no_batch_cost:
        return
    print(
        f"\n| model | weights | one batch of {BATCH} × {ONS_SECONDS:g} s | Open NSynth Super set "
        f"({ONS_SOUNDS:,} sounds), 1 worker | 10 workers | 100 workers |\n|---|---|---:|---:|---:|---:|"
    )
    for config_name, precision, clip in (
        ("embedded", "float32", 0.5),
        ("embedded", "int8", 0.5),
        ("h512_bo16", "int8", 0.05),
        ("h512_bo16", "float32", 0.05),
    ):
        name, cost = _batch_cost(config_name, precision, clip)
        total = ONS_SOUNDS / BATCH * cost
        print(
            f"| {name} | {precision} | {cost:,.0f} s | {total / 86400:,.1f} days | {total / 10 / 3600:,.1f} h | "
            f"{total / 100 / 3600:,.1f} h |",
            flush=True,
        )
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
