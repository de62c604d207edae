"""The spikeflow story in about two minutes: events -> surrogate-gradient training -> the event engine.

1. scikit-learn's bundled 8x8 digits are turned into event streams by the saccade camera
   simulator (:func:`spikeflow.data.saccades_many`, N-MNIST's three saccades, 315 ms each);
2. a small spiking network (162-128-10 LIF) is trained with surrogate gradients
   (:mod:`spikeflow.torch` + :func:`spikeflow.train.fit`);
3. it is deployed onto the event engine (:func:`spikeflow.deploy.deploy`) and the test set runs
   there in batch mode on all cores;
4. accuracy (torch and engine), spike agreement, spikes and synaptic operations per sample,
   energy against the equivalent ANN and latency are printed, a raster and an event frame are
   saved, and the last line is one JSON object with the figures.

``--nmnist PATH`` repeats steps 2-4 on real N-MNIST recordings (``PATH/Train``, ``PATH/Test``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = ["build_parser", "events_to_counts", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    """The demo's command-line options."""
    p = argparse.ArgumentParser(
        prog="spikeflow demo",
        description="Train a spiking network on event-camera digits with surrogate gradients, deploy it "
                    "onto the event engine, and report accuracy, spikes, synaptic operations, energy and "
                    "latency (last line: JSON).",
    )
    p.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    p.add_argument("--nmnist", metavar="PATH", default=None,
                   help="also train/test on real N-MNIST recordings in PATH (Train/ and Test/ folders)")
    p.add_argument("--out", metavar="DIR", default="spikeflow-demo",
                   help="folder for the raster and event-frame PNGs (default ./spikeflow-demo)")
    p.add_argument("--dt", type=float, default=10.0, help="time step in ms (default 10)")
    p.add_argument("--hidden", type=int, default=128, help="hidden LIF neurons (default 128)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split, simulator and training")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def events_to_counts(events: np.ndarray, sensor_size: Tuple[int, int, int], dt_ms: float, steps: int) -> np.ndarray:
    """Spike counts ``[steps, P*H*W]`` of an event stream (bins of ``dt_ms``, index
    ``p*H*W + y*W + x`` as :func:`spikeflow.data.to_spike_source`); later events are dropped."""
    from spikeflow.data import to_spike_source

    times, ids = to_spike_source(events, sensor_size)
    n = int(np.prod(sensor_size))
    out = np.zeros((steps, n), dtype=np.float32)
    b = np.floor(times / dt_ms).astype(np.int64)
    keep = (b >= 0) & (b < steps)
    np.add.at(out, (b[keep], ids[keep]), 1.0)
    return out


def _say(msg: str) -> None:
    print(msg, flush=True)


def _train_deploy_measure(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                          *, hidden: int, epochs: int, dt: float, seed: int, progress: bool, lr: float,
                          batch: int) -> Dict[str, Any]:
    """Train a 2-layer LIF network on ``x[N, T, n_in]`` counts, deploy it, measure it."""
    import torch

    import spikeflow.deploy as sdp
    import spikeflow.metrics as sm
    import spikeflow.torch as st
    from spikeflow.train import fit, seed_everything

    n_in = x_train.shape[2]
    seed_everything(seed)
    model = st.Sequential(st.Linear(n_in, hidden), st.LIF(beta=0.9), st.Linear(hidden, 10), st.LIF(beta=0.9))
    xt, yt = torch.as_tensor(x_train), torch.as_tensor(y_train, dtype=torch.long)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=batch, shuffle=True)
    t0 = time.perf_counter()
    hist = fit(model, loader, epochs=epochs, lr=lr, schedule="cosine", spike_reg=0.0, seed=seed,
               progress=progress)
    train_s = time.perf_counter() - t0
    model.eval()
    x_te = torch.as_tensor(x_test).transpose(0, 1).contiguous()  # [T, B, n_in]
    t0 = time.perf_counter()
    with torch.no_grad():
        out, _ = model(x_te)
    torch_s = time.perf_counter() - t0
    acc_torch = float((out.sum(0).argmax(1).numpy() == y_test).mean())

    dep = sdp.deploy(model, dt=dt)
    t0 = time.perf_counter()
    agree = sdp.compare(dep, model, x_te)
    engine_s = time.perf_counter() - t0
    res = agree.result
    acc_engine = float((dep.predictions(res) == y_test).mean())
    s = sm.summary(dep, res, model)
    return {
        "model": model, "deployed": dep, "history": hist, "agreement": agree,
        "figures": {
            "accuracy_torch": acc_torch,
            "accuracy_engine": acc_engine,
            "spike_agreement": agree.spike_agreement,
            "prediction_agreement": agree.prediction_agreement,
            "spikes_per_sample": s["spikes_per_sample"],
            "input_spikes_per_sample": s["input_spikes_per_sample"],
            "synaptic_ops_per_sample": s["synaptic_ops_per_sample"],
            "ann_macs_per_sample": s["ann_macs"],
            "energy_snn_pj": s["energy_snn_pj"],
            "energy_ann_pj": s["energy_ann_pj"],
            "energy_ratio_ann_over_snn": s["ann_over_snn"],
            "latency_ms": s["latency_ms"],
            "train_seconds": train_s,
            "torch_inference_seconds": torch_s,
            "engine_compare_seconds": engine_s,
            "test_samples": int(len(y_test)),
        },
    }


def _report(title: str, f: Dict[str, Any], dt: float, depth: int) -> None:
    _say(f"\n== {title} ==")
    _say(f"accuracy: torch {100 * f['accuracy_torch']:.1f}%  engine {100 * f['accuracy_engine']:.1f}%  "
         f"(spike agreement {100 * f['spike_agreement']:.3f}%, same prediction on "
         f"{100 * f['prediction_agreement']:.1f}% of {f['test_samples']} test samples)")
    _say(f"per sample: {f['input_spikes_per_sample']:.0f} input spikes, {f['spikes_per_sample']:.0f} neuron spikes, "
         f"{f['synaptic_ops_per_sample']:.0f} synaptic operations")
    _say(f"energy per sample: SNN {f['energy_snn_pj'] / 1e3:.1f} nJ (0.9 pJ/accumulate) vs equivalent ANN "
         f"{f['energy_ann_pj'] / 1e3:.1f} nJ ({f['ann_macs_per_sample']:.0f} MACs at 4.6 pJ): "
         f"{f['energy_ratio_ann_over_snn']:.1f}x less")
    _say(f"latency to the first decisive output spike: {f['latency_ms']:.1f} ms "
         f"(incl. {depth} x {dt:g} ms synaptic pipeline delay)")


def _raster_png(dep: Any, x: np.ndarray, path: Path, dt: float) -> None:
    """Input and engine spikes of every layer of one sample, stacked."""
    import spikeflow.viz as sv

    trains = dep.spike_trains(x)
    blocks = [x] + trains
    names = ["input"] + [f"hidden {k + 1}" for k in range(len(dep.layers) - 1)] + ["output"]
    times, ids, colors = [], [], []
    offset = 0
    palette = ["0.4", "tab:blue", "tab:red", "tab:green", "tab:purple"]
    ticks = []
    for k, b in enumerate(blocks):
        t, i = np.nonzero(b)
        depth = 0 if k == 0 else dep.layers[k - 1].depth
        times.append((t + depth) * dt)  # engine time
        ids.append(i + offset)
        colors += [palette[k % len(palette)]] * len(t)
        ticks.append((offset + b.shape[1] / 2, names[k]))
        offset += b.shape[1]
    ax = sv.raster(np.concatenate(times), np.concatenate(ids), color=colors,
                   title="one test digit on the event engine (input, hidden, output)")
    ax.set_yticks([p for p, _ in ticks], [n for _, n in ticks])
    ax.set_ylim(-0.5, offset - 0.5)
    ax.figure.savefig(path, dpi=110)


def _frame_png(events: np.ndarray, sensor: Tuple[int, int, int], image: np.ndarray, path: Path) -> None:
    import spikeflow.viz as sv
    from spikeflow.viz._common import new_figure

    fig = new_figure(6.5, 3.2)
    a0 = fig.add_subplot(1, 2, 1)
    a0.imshow(image, cmap="gray", interpolation="nearest")
    a0.set_xticks([])
    a0.set_yticks([])
    a0.set_title("8x8 digit", fontsize=9)
    sv.plot_event_frame(events, sensor, ax=fig.add_subplot(1, 2, 2),
                        title=f"{len(events)} events, saccade simulator")
    fig.savefig(path, dpi=110)


def _load_nmnist(path: str, dt: float, steps: int, seed: int) -> Tuple[np.ndarray, ...]:
    import spikeflow.data as sd

    sensor = (34, 34, 2)
    out = []
    for train in (True, False):
        ds = sd.NMNIST(path, train=train)
        xs, ys = [], []
        for k in range(len(ds)):
            ev, label = ds[k]
            xs.append(events_to_counts(ev, sensor, dt, steps))
            ys.append(int(label))
        out += [np.stack(xs), np.asarray(ys)]
    return tuple(out)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Run the demo with parsed ``args``; returns the JSON figures."""
    import torch
    from sklearn.datasets import load_digits

    import spikeflow.data as sd

    if args.threads:
        torch.set_num_threads(args.threads)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet and sys.stderr.isatty()
    t_start = time.perf_counter()

    digits = load_digits()
    images, labels = digits.images / 16.0, digits.target.astype(np.int64)
    t0 = time.perf_counter()
    streams = sd.saccades_many(images, seed=args.seed)
    sensor = (9, 9, 2)
    steps = int(np.ceil(315.0 / args.dt))
    x = np.stack([events_to_counts(ev, sensor, args.dt, steps) for ev in streams])  # [N, T, 162]
    _say(f"data: {len(images)} scikit-learn 8x8 digits -> saccade camera simulator: "
         f"{np.mean([len(e) for e in streams]):.0f} events per digit on a 9x9x2 sensor "
         f"({time.perf_counter() - t0:.1f} s); {steps} steps of {args.dt:g} ms")
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(labels))
    n_test = len(labels) // 5
    te, tr = order[:n_test], order[n_test:]

    _say(f"training 162-{args.hidden}-10 LIF with surrogate gradients for {args.epochs} epochs "
         f"on {len(tr)} digits ...")
    r = _train_deploy_measure(x[tr], labels[tr], x[te], labels[te], hidden=args.hidden, epochs=args.epochs,
                              dt=args.dt, seed=args.seed, progress=progress, lr=2e-3, batch=64)
    f = r["figures"]
    dep = r["deployed"]
    _say(f"trained in {f['train_seconds']:.1f} s; deployed: {dep}")
    _report("8x8 digits through the saccade simulator", f, args.dt, dep.depth)

    k = int(te[0])
    raster = out_dir / "raster.png"
    frame = out_dir / "event_frame.png"
    _raster_png(dep, x[k], raster, args.dt)
    _frame_png(streams[k], sensor, images[k], frame)
    _say(f"\nwrote {raster} and {frame}")

    figures: Dict[str, Any] = {k2: v for k2, v in f.items()}
    figures.update({"dataset": "sklearn-digits-saccades", "epochs": args.epochs, "dt_ms": args.dt,
                    "raster_png": str(raster), "event_frame_png": str(frame)})
    if args.nmnist:
        steps_n = int(np.ceil(315.0 / args.dt))
        t0 = time.perf_counter()
        xa, ya, xb, yb = _load_nmnist(args.nmnist, args.dt, steps_n, args.seed)
        _say(f"\nN-MNIST: {len(ya)} train / {len(yb)} test recordings read in {time.perf_counter() - t0:.1f} s")
        rn = _train_deploy_measure(xa, ya, xb, yb, hidden=args.hidden, epochs=args.epochs, dt=args.dt,
                                   seed=args.seed, progress=progress, lr=1e-3, batch=32)
        _report("real N-MNIST (34x34x2)", rn["figures"], args.dt, rn["deployed"].depth)
        figures["nmnist"] = rn["figures"]
    figures["total_seconds"] = time.perf_counter() - t_start
    return figures


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``spikeflow demo``; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.epochs < 0 or args.dt <= 0 or args.hidden < 1:
        print("spikeflow demo: --epochs must be >= 0, --dt > 0 and --hidden >= 1", file=sys.stderr)
        return 2
    try:
        import sklearn  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        print(f"spikeflow demo needs torch and scikit-learn: pip install 'spikeflow[torch]' scikit-learn ({exc})",
              file=sys.stderr)
        return 1
    if args.nmnist and not os.path.isdir(args.nmnist):
        print(f"spikeflow demo: --nmnist {args.nmnist}: no such folder", file=sys.stderr)
        return 2
    figures = run(args)
    print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in figures.items()}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
