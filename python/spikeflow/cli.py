"""Command line: ``spikeflow demo`` and ``spikeflow show FILE``."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

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


def brunel_showcase(out: Path, scale: int = 1, duration: float = 1000.0, dt: float = 0.1,
                    seed: int = 1) -> Dict[str, Any]:
    """Simulate the Brunel balanced network, print rates and event counts, save a raster.
    Returns the figures (keys prefixed ``brunel_``)."""
    import spikeflow as sf
    from spikeflow.models import BrunelParams, brunel

    out.mkdir(parents=True, exist_ok=True)
    params = BrunelParams.scaled(scale)
    t0 = time.perf_counter()
    net, exc, inh = brunel(params, dt=dt, seed=seed)
    rec_e, rec_i = net.record_spikes(exc), net.record_spikes(inh)
    t1 = time.perf_counter()
    net.run(duration)
    t2 = time.perf_counter()
    c = net.counters()
    recurrent = sum(v["synaptic_events"] for k, v in c["projections"].items() if "noise" not in k)
    rate_e, rate_i = rec_e.rate(), rec_i.rate()
    print(f"spikeflow {sf.__version__}: Brunel (2000) balanced network, "
          f"{params.n_exc}+{params.n_inh} LIF neurons, {c['synapses']:,} synapses, dt={dt} ms")
    print(f"  build            {t1 - t0:8.2f} s")
    print(f"  simulate {duration:6.0f} ms {t2 - t1:8.2f} s")
    print(f"  rate exc / inh   {rate_e:8.2f} / {rate_i:.2f} Hz")
    print(f"  spikes           {c['populations']['exc']['spikes'] + c['populations']['inh']['spikes']:,}")
    print(f"  synaptic events  {recurrent:,} recurrent ({recurrent / (t2 - t1) / 1e6:.1f} M/s), "
          f"{c['synaptic_events'] - recurrent:,} from Poisson drive")
    print(f"  bytes/synapse    {c['bytes_per_synapse']:8.2f}")
    png = out / "brunel_raster.png"
    sel = rec_e.ids < 200
    _raster_png(rec_e.times[sel], rec_e.ids[sel], png,
                f"Brunel network: 200 of {params.n_exc} excitatory neurons ({rate_e:.1f} Hz)", duration)
    print(f"  raster           {png}")
    return {
        "brunel_neurons": c["neurons"], "brunel_synapses": c["synapses"], "brunel_build_s": t1 - t0,
        "brunel_sim_s": t2 - t1, "brunel_rate_exc_hz": rate_e, "brunel_rate_inh_hz": rate_i,
        "brunel_synaptic_events": recurrent, "brunel_events_per_s": recurrent / (t2 - t1),
        "brunel_bytes_per_synapse": c["bytes_per_synapse"], "brunel_raster_png": str(png),
    }


def _json_line(figures: Dict[str, Any]) -> str:
    return json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in figures.items()})


def demo(argv: Sequence[str]) -> int:
    """``spikeflow demo``: the engine on the Brunel network, then the whole story (event camera
    -> surrogate-gradient training -> deployment onto the engine -> accuracy, energy, latency)."""
    from spikeflow import demo as story

    parser = story.build_parser()
    parser.add_argument("--no-brunel", action="store_true", help="skip the Brunel network part")
    args = parser.parse_args(argv)
    if args.epochs < 0 or args.dt <= 0 or args.hidden < 1:
        parser.error("--epochs must be >= 0, --dt > 0 and --hidden >= 1")
    if args.nmnist and not Path(args.nmnist).is_dir():
        parser.error(f"--nmnist {args.nmnist}: no such folder")
    figures: Dict[str, Any] = {}
    if not args.no_brunel:
        figures.update(brunel_showcase(Path(args.out), seed=args.seed + 1))
        print()
    try:
        import sklearn  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        print(f"The training part needs torch and scikit-learn: pip install 'spikeflow[demo]' ({exc})",
              file=sys.stderr)
        print(_json_line(figures))
        return 1
    figures.update(story.run(args))
    print(_json_line(figures))
    return 0


def brunel_command(argv: Sequence[str]) -> int:
    """``spikeflow brunel``: only the Brunel network."""
    p = argparse.ArgumentParser(prog="spikeflow brunel", description="Simulate the Brunel (2000) network.")
    p.add_argument("--out", default="spikeflow-demo", help="folder for the raster (default: %(default)s)")
    p.add_argument("--duration", type=float, default=1000.0, help="biological time in ms (default: %(default)s)")
    p.add_argument("--scale", type=int, default=1, help="network size factor (1: 5000 neurons)")
    p.add_argument("--dt", type=float, default=0.1, help="grid step in ms (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    print(_json_line(brunel_showcase(Path(args.out), args.scale, args.duration, args.dt, args.seed)))
    return 0


def show(argv: Sequence[str]) -> int:
    """``spikeflow show FILE``: render an event recording to a PNG."""
    p = argparse.ArgumentParser(prog="spikeflow show", description="Render an event file to a PNG.")
    p.add_argument("file", help="a .bin, .aedat, .aedat4, .raw or .dat recording")
    p.add_argument("--out", default=None, help="output PNG (default: FILE with .png)")
    args = p.parse_args(argv)
    from spikeflow.viz import render_file

    out = Path(args.out) if args.out else Path(args.file).with_suffix(".png")
    render_file(args.file, out)
    print(out)
    return 0


COMMANDS = {"demo": demo, "brunel": brunel_command, "show": show}
USAGE = """usage: spikeflow {demo,brunel,show} ...

  demo     simulate the Brunel network, then train a spiking network on event-camera digits,
           deploy it onto the event engine and report accuracy, energy and latency
  brunel   only the Brunel network (rates, event counts, raster PNG)
  show     render an event file (.bin, .aedat, .aedat4, .raw, .dat) to a PNG

`spikeflow COMMAND --help` lists a command's options."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``spikeflow`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"spikeflow: unknown command {argv[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        return command(argv[1:])
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
