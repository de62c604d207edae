"""Event-driven inference on the engine vs dense time-stepped torch, on real N-MNIST.

A 2312-H-10 LIF network is trained briefly on the 1000 Train recordings, deployed with
``spikeflow.deploy``, and the 81 Test recordings are run at batch 1 and batch 64 through:

* the engine (``Network.run_batch``, all cores);
* dense time-stepped torch (``nn.Linear`` on every step, the LIF stepped in a Python loop:
  what snnTorch-style inference does);
* spikeflow.torch's own forward (event-driven Linear, fused Rust LIF), for reference.

    python benches/inference.py [--data ../shared/data/nmnist] [--dt 1] [--hidden 128]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import spikeflow.data as sd
import spikeflow.deploy as sdp
import spikeflow.metrics as sm
import spikeflow.torch as st
import torch
from spikeflow.demo import events_to_counts
from spikeflow.train import fit, seed_everything


def load(root: str, dt: float, steps: int):
    out = []
    for train in (True, False):
        ds = sd.NMNIST(root, train=train)
        xs, ys = [], []
        for k in range(len(ds)):
            ev, y = ds[k]
            xs.append(events_to_counts(ev, (34, 34, 2), dt, steps))
            ys.append(int(y))
        out += [np.stack(xs), np.asarray(ys)]
    return out


def dense_copy(model: st.Sequential) -> st.Sequential:
    """The same weights with the dense torch paths: nn.Linear every step, stepped LIF loop."""
    layers = []
    for m in model:
        if isinstance(m, st.Linear):
            d = st.Linear(m.in_features, m.out_features, sparse=False)
            d.load_state_dict(m.state_dict())
            layers.append(d)
        elif isinstance(m, st.LIF):
            layers.append(st.LIF(beta=float(m.beta), v_th=float(m.v_th), fused=False))
        else:
            layers.append(m)
    return st.Sequential(*layers).eval()


def timed(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "nmnist"))
    p.add_argument("--dt", type=float, default=1.0)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    steps = int(np.ceil(315.0 / args.dt))
    t0 = time.perf_counter()
    xa, ya, xb, yb = load(args.data, args.dt, steps)
    print(f"N-MNIST {len(ya)} train / {len(yb)} test, {steps} steps of {args.dt:g} ms, "
          f"read in {time.perf_counter() - t0:.1f} s")

    seed_everything(0)
    model = st.Sequential(st.Linear(2312, args.hidden), st.LIF(beta=0.95), st.Linear(args.hidden, 10),
                          st.LIF(beta=0.95))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.as_tensor(xa), torch.as_tensor(ya)), batch_size=32, shuffle=True)
    t0 = time.perf_counter()
    fit(model, loader, epochs=args.epochs, lr=1e-3, progress=False)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - t0:.1f} s")
    model.eval()
    dense = dense_copy(model)
    xt = torch.as_tensor(xb).transpose(0, 1).contiguous()  # [T, 81, 2312]
    n = xt.shape[1]

    dep = sdp.deploy(model, dt=args.dt)
    agree = sdp.compare(dep, model, xt)
    acc_t = float((agree.torch_predictions == yb).mean())
    acc_e = float((agree.engine_predictions == yb).mean())
    summ = sm.summary(dep, agree.result, model)
    samples = dep.encode_batch(xt)

    def engine(batch: int) -> float:
        def go():
            for i in range(0, n, batch):
                dep.run_batch(samples[i:i + batch], steps, record=[dep.layers[-1]])
        return timed(go) / n

    def torch_run(m, batch: int) -> float:
        def go():
            with torch.no_grad():
                for i in range(0, n, batch):
                    m(xt[:, i:i + batch])
        return timed(go) / n

    rows = {}
    for b in (1, 64):
        rows[b] = {
            "engine_ms": 1e3 * engine(b),
            "torch_dense_ms": 1e3 * torch_run(dense, b),
            "spikeflow_torch_ms": 1e3 * torch_run(model, b),
        }
        r = rows[b]
        r["speedup_vs_dense"] = r["torch_dense_ms"] / r["engine_ms"]
        r["speedup_vs_spikeflow_torch"] = r["spikeflow_torch_ms"] / r["engine_ms"]
        print(f"batch {b:>2}: engine {r['engine_ms']:.3f} ms/sample, dense torch {r['torch_dense_ms']:.3f} "
              f"({r['speedup_vs_dense']:.1f}x), spikeflow.torch {r['spikeflow_torch_ms']:.3f} "
              f"({r['speedup_vs_spikeflow_torch']:.1f}x)")
    print(f"accuracy on the 81 test recordings: torch {acc_t:.3f}, engine {acc_e:.3f}; spike agreement "
          f"{agree.spike_agreement:.5f}, prediction agreement {agree.prediction_agreement:.3f}")
    print(f"per sample: {summ['synaptic_ops_per_sample']:.0f} synaptic ops, {summ['spikes_per_sample']:.0f} spikes, "
          f"energy SNN {summ['energy_snn_pj'] / 1e3:.1f} nJ vs ANN {summ['energy_ann_pj'] / 1e3:.1f} nJ, "
          f"latency {summ['latency_ms']:.1f} ms")
    print(json.dumps({"dt_ms": args.dt, "steps": steps, "hidden": args.hidden, "threads": args.threads,
                      "accuracy_torch": acc_t, "accuracy_engine": acc_e, **agree.as_dict(), **summ,
                      "batch1": rows[1], "batch64": rows[64]}))


if __name__ == "__main__":
    main()
