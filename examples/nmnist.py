"""N-MNIST with a convolutional SNN: real recordings, and sim-to-real from the camera simulator.

Two experiments, the same deployable network as ``examples/mnist_conv.py``
(``Conv3x3(c1)-tdBN-LIF-MaxPool2 - Conv3x3(c2)-tdBN-LIF-MaxPool2 - Linear(hidden)-tdBN-LIF -
Linear(10)-LIF`` on ``2 x 34 x 34`` input):

* default: train on the real recordings in ``nmnist/Train`` (1000 samples here) and report
  accuracy on the 81 real ``nmnist/Test`` samples;
* ``--sim2real``: train on MNIST training digits turned into events by the saccade camera
  simulator (:func:`spikeflow.data.saccades`, N-MNIST's three saccades on a 34x34 sensor) as
  the large-scale stand-in, then evaluate on held-out simulated MNIST test digits **and on the
  real recordings** (the 81 ``Test`` and the 1000 ``Train`` samples, none seen in training).
  Whatever the gap is, it is printed as it is.

Events become ``T`` count frames per sample (:func:`spikeflow.data.to_frames`,
``n_time_bins=T`` over each recording; the counts are the input spikes of each step, which the
engine receives as that many spikes). Training shifts every sample at random by up to
``--shift`` pixels. :func:`spikeflow.train.fit` writes ``last.pt`` after every epoch and a rerun
resumes; simulated frames are cached in ``--cache-dir``. After training, torch evaluates, the
model is deployed onto the event engine (:func:`spikeflow.deploy.deploy`) and the real test
samples run there: torch-vs-engine agreement, engine accuracy, spikes, synaptic operations,
energy and latency per sample. The last line printed is one JSON object.

Cost (2-core VM): real N-MNIST, 1000 samples x ``T = 8``: ~7 s per epoch on one loaded core; the
default 30 epochs took 223 s and reached 96.3% (78/81) on the real test samples (each sample is
1.2% of that figure). Sim-to-real with the default 20 000 simulated digits: ~3 min of
simulation (cached afterwards) and ~2-3 min per epoch, 10 epochs ~25-35 min.

Full runs::

    python examples/nmnist.py --epochs 30 --threads 2
    python examples/nmnist.py --sim2real --epochs 10 --threads 2

Quick check: ``python examples/nmnist.py --epochs 2 --threads 1`` and
``python examples/nmnist.py --sim2real --limit 2000 --epochs 1 --threads 1``.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist_conv as mc  # noqa: E402  (the shared model, evaluation and deployment helpers)

__all__ = ["build_parser", "events_to_frames", "main", "run", "simulated_frames"]

SENSOR = (34, 34, 2)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description="Train a convolutional SNN on real N-MNIST recordings (or, with --sim2real, on MNIST "
                    "through the saccade camera simulator, tested on the real recordings), deploy it onto "
                    "the event engine and report accuracy, training time, spikes, synaptic operations and "
                    "energy per sample (last line: JSON).")
    p.add_argument("--data", metavar="ROOT", default=None,
                   help="data root holding nmnist/ (and mnist/ for --sim2real); default $SPIKEFLOW_DATA")
    p.add_argument("--sim2real", action="store_true",
                   help="train on saccade-simulated MNIST, evaluate on the real N-MNIST recordings")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 30 real, 10 sim2real)")
    p.add_argument("--limit", type=int, default=None,
                   help="training samples: first N real recordings, or N simulated digits with --sim2real "
                        "(default: all 1000 real / 20000 simulated)")
    p.add_argument("--sim-test", type=int, default=1000,
                   help="--sim2real: simulated MNIST test digits for the in-simulation accuracy (default 1000)")
    p.add_argument("--T", type=int, default=8, help="frames (time steps) per recording (default 8)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 32 real, 64 sim2real)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3, cosine schedule)")
    p.add_argument("--channels", type=int, nargs=2, default=(32, 64), metavar=("C1", "C2"),
                   help="channels of the two conv layers (default 32 64)")
    p.add_argument("--hidden", type=int, default=128, help="hidden LIF neurons (default 128)")
    p.add_argument("--beta", type=float, default=0.5, help="LIF leak per step (default 0.5)")
    p.add_argument("--shift", type=int, default=2, help="random shift augmentation in pixels (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data order, simulator, augmentation")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="last.pt after every epoch (default runs/nmnist or runs/nmnist_sim2real); resumed")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--cache-dir", default="runs/cache",
                   help="where simulated frames are cached (default runs/cache; '' disables)")
    p.add_argument("--deploy-samples", type=int, default=81,
                   help="real test recordings run on the event engine (default 81 = all; 0: skip)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def events_to_frames(events: np.ndarray, T: int) -> np.ndarray:
    """``T`` count frames ``(T, 2, 34, 34)`` uint8 spanning the recording (``n_time_bins=T``)."""
    from spikeflow.data import to_frames

    f = to_frames(events, SENSOR, n_time_bins=T, dtype=np.int32)
    return np.minimum(f, 255).astype(np.uint8)


def real_frames(root: Optional[str], train: bool, T: int, limit: Optional[int] = None
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Frames ``(N, T, 2, 34, 34)`` and labels of the real recordings (``read_many``, parallel)."""
    import spikeflow.data as sd

    ds = sd.NMNIST(None if root is None else Path(root) / "nmnist", train=train)
    idx = np.arange(len(ds))
    if limit:
        idx = np.sort(np.random.default_rng(0).permutation(len(ds))[:limit])  # files are sorted by digit
    events = sd.read_many([ds.samples[i] for i in idx], format="nmnist")
    x = np.stack([events_to_frames(ev, T) for ev in events])
    y = np.asarray([ds.targets[i] for i in idx], dtype=np.int64)
    return x, y


def simulated_frames(images: np.ndarray, T: int, seed: int, cache_dir: Optional[str] = None,
                     tag: str = "", progress: bool = False) -> np.ndarray:
    """Frames ``(N, T, 2, 34, 34)`` of ``images`` moved along N-MNIST's saccades by the camera
    simulator (image ``i`` uses camera seed ``seed + i``); cached as ``.npy`` when ``cache_dir``."""
    import spikeflow.data as sd

    path = None
    if cache_dir:
        key = hashlib.sha1(images.tobytes()).hexdigest()[:12]
        path = Path(cache_dir) / f"saccades_{tag}{len(images)}_T{T}_s{seed}_{key}.npy"
        if path.exists():
            return np.load(path)
    it: Any = range(len(images))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="saccade simulator", leave=False)
    out = np.empty((len(images), T) + (SENSOR[2], SENSOR[1], SENSOR[0]), dtype=np.uint8)
    for i in it:
        out[i] = events_to_frames(sd.saccades(images[i], seed=seed + i), T)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, out)
        tmp.replace(path)
    return out


class FrameBatches:
    """``collate_fn``: stack ``(frames uint8 [T, 2, H, W], label)`` samples, shift them at random
    (training) and return time-first float ``([T, B, 2, H, W], labels)``."""

    def __init__(self, shift: int = 0) -> None:
        self.shift = shift

    def __call__(self, batch: List[Tuple[Any, Any]]) -> Tuple[Any, Any]:
        import torch

        x = mc.random_shift(torch.stack([b[0] for b in batch]), self.shift)
        return x.float().transpose(0, 1).contiguous(), torch.stack([b[1] for b in batch])


def frame_loader(x: np.ndarray, y: np.ndarray, batch: int, shuffle: bool, shift: int = 0) -> Any:
    """A DataLoader of time-first frame batches."""
    import torch

    ds = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y, dtype=torch.long))
    return torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=shuffle,
                                       collate_fn=FrameBatches(shift if shuffle else 0))


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Train, evaluate and deploy as ``args`` say; returns the JSON figures."""
    import torch
    from spikeflow.train import seed_everything

    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.quiet and sys.stderr.isatty()
    t_start = time.perf_counter()
    mode = "sim2real" if args.sim2real else "real"
    ckpt = Path(args.checkpoint_dir or ("runs/nmnist_sim2real" if args.sim2real else "runs/nmnist"))

    t0 = time.perf_counter()
    x_test, y_test = real_frames(args.data, False, args.T)
    extra: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
    if args.sim2real:
        xa_img, ya, xb_img, yb = mc.load_images("mnist", args.data)
        n = args.limit or 20000
        xa_img, ya = xa_img[:n], ya[:n]
        x_train = simulated_frames(xa_img, args.T, args.seed, args.cache_dir or None, "train", progress)
        xs, ys = xb_img[:args.sim_test], yb[:args.sim_test]
        if len(ys):
            # camera seeds far from the training ones
            extra["sim_test"] = (simulated_frames(xs, args.T, args.seed + 10_000_000, args.cache_dir or None,
                                                  "test", progress), ys)
        extra["real_train"] = real_frames(args.data, True, args.T)
        y_train = ya
        what = f"{len(ya)} MNIST training digits through the saccade camera simulator"
    else:
        x_train, y_train = real_frames(args.data, True, args.T, args.limit)
        what = f"{len(y_train)} real N-MNIST training recordings"
    say = mc.say
    say(f"N-MNIST ({mode}): training on {what}; {len(y_test)} real test recordings; {args.T} frames each "
        f"(data ready in {time.perf_counter() - t0:.1f} s); checkpoints in {ckpt}")
    say(f"mean events per sample: train {x_train.reshape(len(x_train), -1).sum(1).mean():.0f}, "
        f"real test {x_test.reshape(len(x_test), -1).sum(1).mean():.0f}")

    seed_everything(args.seed)
    model = mc.build_model(2, 34, args.channels, args.hidden, args.beta)
    batch = args.batch or (64 if args.sim2real else 32)
    loader = frame_loader(x_train, y_train, batch, True, args.shift)
    say(f"training {args.channels[0]}c3-pool-{args.channels[1]}c3-pool-{args.hidden}-10 LIF for "
        f"{args.epochs} epochs ...")
    tr = mc.train(model, loader, epochs=args.epochs, lr=args.lr, seed=args.seed, checkpoint_dir=ckpt,
                  resume=not args.no_resume, progress=progress)

    ev = mc.torch_evaluate(model, frame_loader(x_test, y_test, 128, False))
    figures: Dict[str, Any] = {
        "dataset": "nmnist", "mode": mode, "T": args.T, "epochs": args.epochs,
        "train_samples": int(len(y_train)), "test_samples": ev["samples"], "accuracy": ev["accuracy"],
        **tr,
        "torch_spikes_per_sample": ev["spikes_per_sample"],
        "torch_input_spikes_per_sample": ev["input_spikes_per_sample"],
        "threads": torch.get_num_threads(),
    }
    for name, (xe, ye) in extra.items():
        e = mc.torch_evaluate(model, frame_loader(xe, ye, 128, False))
        figures[f"accuracy_{name}"] = e["accuracy"]
        figures[f"{name}_samples"] = e["samples"]
    n_dep = min(args.deploy_samples, len(y_test))
    if n_dep > 0:
        pick = np.unique(np.linspace(0, len(y_test) - 1, n_dep).round().astype(np.int64))  # all digits
        x_dep = torch.as_tensor(x_test[pick]).float().transpose(0, 1).contiguous()
        figures.update(mc.deploy_and_measure(model, x_dep, y_test[pick], (2, 34, 34), threads=args.threads))
    figures["total_seconds"] = time.perf_counter() - t_start
    mc.report(f"N-MNIST, {mode}: accuracy on the real test recordings", figures)
    if args.sim2real:
        say(f"sim-to-real: simulated MNIST test digits {100 * figures.get('accuracy_sim_test', float('nan')):.2f}% "
            f"-> real N-MNIST Test {100 * figures['accuracy']:.2f}% ({figures['test_samples']}), real Train "
            f"{100 * figures['accuracy_real_train']:.2f}% ({figures['real_train_samples']}, unseen)")
    return figures


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status. The last line printed is the JSON figures."""
    args = build_parser().parse_args(argv)
    if args.epochs is None:
        args.epochs = 10 if args.sim2real else 30
    if args.epochs < 0 or args.T < 1 or (args.batch is not None and args.batch < 1):
        print("nmnist: --epochs must be >= 0, --T and --batch >= 1", file=sys.stderr)
        return 2
    figures = run(args)
    print(mc.json_line(figures))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
