"""Command line: ``spikeflow demo`` and ``spikeflow show FILE``."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np


def _raster_png(times: np.ndarray, ids: np.ndarray, path: Path, title: str, t_max: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot(times, ids, ",", color="k", rasterized=True)
    ax.set_ylabel("neuron")
    ax.set_title(title)
    bins = np.arange(0.0, t_max + 5.0, 5.0)
    hist, _ = np.histogram(times, bins)
    n = max(int(ids.max()) + 1 if len(ids) else 1, 1)
    ax2.bar(bins[:-1], hist / (n * 5e-3), width=5.0, align="edge", color="0.3")
    ax2.set_xlabel("time (ms)")
    ax2.set_ylabel("rate (Hz)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def demo(args: argparse.Namespace) -> int:
    """Simulate the Brunel balanced network, print rates and event counts, save a raster."""
    import spikeflow as sf
    from spikeflow.models import BrunelParams, brunel

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    params = BrunelParams.scaled(args.scale)
    t0 = time.perf_counter()
    net, exc, inh = brunel(params, dt=args.dt, seed=args.seed)
    rec_e, rec_i = net.record_spikes(exc), net.record_spikes(inh)
    t1 = time.perf_counter()
    net.run(args.duration)
    t2 = time.perf_counter()
    c = net.counters()
    recurrent = sum(v["synaptic_events"] for k, v in c["projections"].items() if "noise" not in k)
    rate_e, rate_i = rec_e.rate(), rec_i.rate()
    print(f"spikeflow {sf.__version__} demo: Brunel (2000) balanced network, "
          f"{params.n_exc}+{params.n_inh} LIF neurons, {c['synapses']:,} synapses, dt={args.dt} ms")
    print(f"  build            {t1 - t0:8.2f} s")
    print(f"  simulate {args.duration:6.0f} ms {t2 - t1:8.2f} s")
    print(f"  rate exc / inh   {rate_e:8.2f} / {rate_i:.2f} Hz")
    print(f"  spikes           {c['populations']['exc']['spikes'] + c['populations']['inh']['spikes']:,}")
    print(f"  synaptic events  {recurrent:,} recurrent ({recurrent / (t2 - t1) / 1e6:.1f} M/s), "
          f"{c['synaptic_events'] - recurrent:,} from Poisson drive")
    print(f"  bytes/synapse    {c['bytes_per_synapse']:8.2f}")
    png = out / "brunel_raster.png"
    sel = rec_e.ids < 200
    _raster_png(rec_e.times[sel], rec_e.ids[sel], png,
                f"Brunel network: 200 of {params.n_exc} excitatory neurons ({rate_e:.1f} Hz)", args.duration)
    print(f"  raster           {png}")
    print(json.dumps({
        "neurons": c["neurons"], "synapses": c["synapses"], "build_s": round(t1 - t0, 4),
        "sim_s": round(t2 - t1, 4), "rate_exc_hz": round(rate_e, 3), "rate_inh_hz": round(rate_i, 3),
        "recurrent_synaptic_events": recurrent, "events_per_s": round(recurrent / (t2 - t1), 1),
        "bytes_per_synapse": round(c["bytes_per_synapse"], 3), "raster_png": str(png),
    }))
    return 0


def show(args: argparse.Namespace) -> int:
    """Render an event recording to a PNG."""
    try:
        from spikeflow.viz import render_file
    except ImportError:  # pragma: no cover - viz arrives with the data issue
        print("spikeflow show needs spikeflow.viz.render_file, which this build lacks", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.file).with_suffix(".png")
    render_file(args.file, out)
    print(out)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``spikeflow`` console script."""
    parser = argparse.ArgumentParser(prog="spikeflow", description="Event-driven spiking neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="simulate the Brunel network and save a raster plot")
    p.add_argument("--out", default="spikeflow-demo", help="folder for the pictures (default: %(default)s)")
    p.add_argument("--duration", type=float, default=1000.0, help="biological time in ms (default: %(default)s)")
    p.add_argument("--scale", type=int, default=1, help="network size factor (1: 5000 neurons)")
    p.add_argument("--dt", type=float, default=0.1, help="grid step in ms (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=demo)
    s = sub.add_parser("show", help="render an event file (.bin, .aedat, .aedat4, .raw, .dat) to PNG")
    s.add_argument("file")
    s.add_argument("--out", default=None, help="output PNG (default: FILE with .png)")
    s.set_defaults(func=show)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
