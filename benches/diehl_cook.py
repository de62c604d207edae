"""Diehl & Cook (2015) training speed: spikeflow against BindsNET's reference model.

Both learn the same MNIST images one by one, 350 ms per image at dt = 0.5 ms, 400 excitatory
neurons, STDP on input->excitatory, weights normalised before each image, adaptive thresholds:

* spikeflow: ``examples/diehl_cook_mnist.py``'s network (conductance synapses, lateral
  inhibition through an inhibitory layer) with 150 ms of silence after each image;
* BindsNET: ``bindsnet.models.DiehlAndCook2015`` (its own simplification: current-based
  nodes, direct inhibition), state reset after each image instead of the silence, inputs
  from its ``PoissonEncoder`` at the same rates (``pixel / 4`` Hz).

Each image is shown once (no intensity retries) so both do the same work per image. BindsNET
runs in another interpreter (``--bindsnet-python``; it pins old dependencies). Prints the
wall time per image and the ratio. Accuracy is the job of the example, not of this bench.

    python benches/diehl_cook.py --images 40 --bindsnet-python /root/.venvs/bindsnet/bin/python
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

BINDSNET = r"""
import json, sys, time
import numpy as np, torch
from bindsnet.encoding import PoissonEncoder
from bindsnet.models import DiehlAndCook2015
images = np.load(sys.argv[1])
net = DiehlAndCook2015(n_inpt=784, n_neurons=400, exc=22.5, inh=120.0, dt=0.5, norm=78.4,
                       nu=(1e-4, 1e-2), theta_plus=0.05, inpt_shape=(1, 28, 28))
enc = PoissonEncoder(time=350, dt=0.5)
def one(img):
    x = enc(torch.tensor(img, dtype=torch.float32) / 4.0)
    net.run(inputs={"X": x.view(700, 1, 1, 28, 28)}, time=350)
    net.reset_state_variables()
one(images[0])  # warm-up
t = time.perf_counter()
for img in images:
    one(img)
print(json.dumps({"seconds_per_image": (time.perf_counter() - t) / len(images),
                  "torch_threads": torch.get_num_threads()}))
"""


def spikeflow_seconds_per_image(images: np.ndarray) -> float:
    sys.path.insert(0, str(ROOT / "examples"))
    import diehl_cook_mnist as dc

    n = 400
    net, inp, exc, proj = dc.build(n, np.random.default_rng(0).uniform(0.0, 0.3, (784, n)), learn=True)
    rec = net.record_spikes(exc)

    def one(img):
        dc.normalise(proj, n)
        inp.rates = img / 4.0
        net.run(dc.PRESENT_MS)
        rec.take()
        inp.rates = 0.0
        net.run(dc.REST_MS)
        rec.take()

    one(images[0])
    t = time.perf_counter()
    for img in images:
        one(img)
    return (time.perf_counter() - t) / len(images)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--bindsnet-python", default=os.environ.get("BINDSNET_PYTHON"))
    ap.add_argument("--data", default=os.path.join(os.environ.get("SPIKEFLOW_DATA", ROOT.parent / "shared" / "data"),
                                                   "mnist"))
    args = ap.parse_args()
    from spikeflow.data import load_mnist

    x, _ = load_mnist(args.data, train=True)
    images = x[: args.images].reshape(args.images, -1).astype(np.float64)
    out = {"images": args.images}
    out["spikeflow_s_per_image"] = spikeflow_seconds_per_image(images)
    print(f"spikeflow: {out['spikeflow_s_per_image'] * 1e3:.1f} ms per image", flush=True)
    if args.bindsnet_python:
        path = "/tmp/spikeflow_dc_images.npy"
        np.save(path, images)
        res = subprocess.run([args.bindsnet_python, "-c", BINDSNET, path], capture_output=True, text=True)
        if res.returncode != 0:
            print(res.stderr[-2000:])
            out["bindsnet_error"] = res.stderr[-300:]
        else:
            b = json.loads(res.stdout.strip().splitlines()[-1])
            out["bindsnet_s_per_image"] = b["seconds_per_image"]
            out["bindsnet_torch_threads"] = b["torch_threads"]
            out["ratio"] = b["seconds_per_image"] / out["spikeflow_s_per_image"]
            print(f"BindsNET:  {b['seconds_per_image'] * 1e3:.1f} ms per image "
                  f"(torch threads {b['torch_threads']}); spikeflow is {out['ratio']:.1f}x faster")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
