"""Memory of encoding long audio: peak RSS above the loaded model, for blocked and whole encoding.

    python benchmarks/bench_encode_memory.py [--seconds 60,600] [--whole 60]

Each case runs in a fresh subprocess so that its peak RSS is its own: the model (the embedded
architecture, pitch-conditioned, random weights: memory does not depend on their values) is
loaded and warmed up on 1 s of audio, then the bundled guitar note repeated to the length is
encoded. "whole" encodes in one block (learned channels in one encoder call, pitch in one pYIN
run), which is what ``encode`` did before it worked in blocks.
"""

import argparse
import json
import platform
import subprocess
import sys
import time


def _run_case(seconds, whole):
    import resource

    import numpy as np

    from nsynth_widgets.dsp import pitch
    from nsynth_widgets.example_sounds import load_example
    from nsynth_widgets.model.config import EMBEDDED
    from nsynth_widgets.model.nsynth import NSynth

    model = NSynth(EMBEDDED)
    note = load_example("guitar_E3")
    model.encode(note[:16000])
    if whole:
        pitch.BLOCK_SAMPLES = 10**12
    audio = np.tile(note, int(np.ceil(seconds * 16000 / note.size)))[: int(seconds * 16000)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    encoding = model.encode(audio, block_frames=10**9 if whole else 256)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "mode": "whole" if whole else "blocks",
        "frames": encoding.shape[1],
        "time_s": elapsed,
        "rss_before_mib": before / 1024,
        "rss_added_mib": (peak - before) / 1024,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", default="60,600", help="lengths encoded in blocks (comma-separated)")
    parser.add_argument("--whole", default="60", help="lengths also encoded whole, as before (comma-separated)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        seconds, mode = args.case.split(":")
        print(json.dumps(_run_case(float(seconds), mode == "whole")))
        return
    cases = [(s, "blocks") for s in args.seconds.split(",") if s] + [(s, "whole") for s in args.whole.split(",") if s]
    rows = []
    for seconds, mode in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--case", f"{seconds}:{mode}"], capture_output=True, text=True, check=True
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"host: {platform.node()} ({platform.processor() or platform.machine()}), {time.strftime('%Y-%m-%d')}\n")
    print("| audio | encoding | frames | time | RSS with the model loaded | added by encoding |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['seconds']:g} s | {r['mode']} | {r['frames']:,} | {r['time_s']:.1f} s | "
            f"{r['rss_before_mib']:,.0f} MiB | {r['rss_added_mib']:,.0f} MiB |"
        )


if __name__ == "__main__":
    main()
