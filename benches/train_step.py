"""Training-step benchmark of spikeflow.torch against snnTorch, Norse and SpikingJelly (CPU).

B4: fully connected 2312-512-10 LIF, T=25, batch 64, random input spikes at 5% density.
B5: conv(2->16, 5x5)-LIF-avgpool2-conv(16->32, 5x5)-LIF-avgpool2-fc(800->10)-LIF on
    34x34x2 input, T=25, batch 32, 5% random input spikes.
B4-nmnist / B5-nmnist: the same models on real N-MNIST batches (../shared/data/nmnist).
A step is forward + cross-entropy on the summed output spikes + backward + Adam.

Every (benchmark, framework, compiled) runs in its own subprocess (clean peak memory); the
median step time and the peak resident-memory growth are reported. torch threads = 2.

    python benches/train_step.py                 # everything, one process per config
    python benches/train_step.py --bench B4 --frameworks spikeflow snntorch
    python benches/train_step.py --interleave 10  # all frameworks round-robin in one process

On a shared machine prefer ``--interleave`` for timings (every framework sees the same load)
and the per-process mode for peak memory.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

T_STEPS = 25
DENSITY = 0.05
BATCH = {"B4": 64, "B5": 32}
BETA = 0.9
BUDGET_S = float(os.environ.get("SPIKEFLOW_BENCH_BUDGET", "60"))  # timed seconds per config
THREADS = int(os.environ.get("SPIKEFLOW_BENCH_THREADS", "2"))
ADAM_FUSED = os.environ.get("SPIKEFLOW_BENCH_ADAM", "fused") == "fused"  # same for every framework
NMNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nmnist"
FRAMEWORKS = ["spikeflow", "dense", "snntorch", "norse", "spikingjelly"]
BENCHES = ["B4", "B5", "B4-nmnist", "B5-nmnist"]


# ----------------------------------------------------------------------------- data
def _read_nmnist(path: Path) -> np.ndarray:
    """Events (x, y, t_us, p) of one N-MNIST .bin file."""
    try:
        from spikeflow.data import read

        ev = read(path)
        return np.stack([ev["x"], ev["y"], ev["t"], ev["p"]], axis=1).astype(np.int64)
    except ImportError:  # a private reader: 5 bytes per event, big-endian fields
        raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
        word = (raw[:, 2] << 16) | (raw[:, 3] << 8) | raw[:, 4]
        return np.stack([raw[:, 0], raw[:, 1], word & 0x7FFFFF, word >> 23], axis=1)


def nmnist_frames(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` training samples binned into T binary frames ``[n, T, 2, 34, 34]`` and labels."""
    files = sorted((NMNIST / "Train").glob("*/*.bin"))
    if not files:
        raise SystemExit(f"no N-MNIST samples under {NMNIST / 'Train'}")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(files), size=n, replace=len(files) < n)
    frames = np.zeros((n, T_STEPS, 2, 34, 34), dtype=np.float32)
    labels = np.zeros(n, dtype=np.int64)
    for i, j in enumerate(pick):
        ev = _read_nmnist(files[j])
        t = ev[:, 2]
        b = np.minimum((t * T_STEPS) // max(int(t.max()) + 1, 1), T_STEPS - 1)
        frames[i, b, ev[:, 3], ev[:, 1], ev[:, 0]] = 1.0
        labels[i] = int(files[j].parent.name)
    return frames, labels


def make_batches(bench: str, n_batches: int) -> list[tuple[Any, Any]]:
    """Time-first input batches ``[T, B, ...]`` and labels for a benchmark."""
    import torch

    kind = bench.split("-")[0]
    b = BATCH[kind]
    g = torch.Generator().manual_seed(0)
    out = []
    if bench.endswith("nmnist"):
        frames, labels = nmnist_frames(b * n_batches)
        for i in range(n_batches):
            x = torch.from_numpy(frames[i * b:(i + 1) * b]).transpose(0, 1).contiguous()
            out.append((x, torch.from_numpy(labels[i * b:(i + 1) * b])))
    else:
        for _ in range(n_batches):
            x = (torch.rand(T_STEPS, b, 2, 34, 34, generator=g) < DENSITY).float()
            out.append((x, torch.randint(0, 10, (b,), generator=g)))
    if kind == "B4":
        out = [(x.flatten(2), y) for x, y in out]
    return out


# ----------------------------------------------------------------------------- models
def model_spikeflow(kind: str) -> Callable:
    import spikeflow.torch as st

    if kind == "B4":
        net = st.Sequential(st.Linear(2312, 512), st.LIF(BETA), st.Linear(512, 10), st.LIF(BETA))
    else:
        net = st.Sequential(
            st.Conv2d(2, 16, 5), st.LIF(BETA), st.AvgPool2d(2),
            st.Conv2d(16, 32, 5), st.LIF(BETA), st.AvgPool2d(2),
            st.Flatten(), st.Linear(800, 10), st.LIF(BETA),
        )
    return _Wrap(net, lambda m, x: m(x)[0])


class _Wrap:
    """Model + a forward returning the output spikes ``[T, B, 10]``."""

    def __init__(self, module: Any, fwd: Callable, after: Callable | None = None) -> None:
        self.module, self.fwd, self.after = module, fwd, after

    def __call__(self, x: Any) -> Any:
        return self.fwd(self.module, x)


def _dense_modules(kind: str) -> Any:
    from torch import nn

    if kind == "B4":
        return nn.ModuleList([nn.Linear(2312, 512), nn.Linear(512, 10)])
    return nn.ModuleList([nn.Conv2d(2, 16, 5), nn.Conv2d(16, 32, 5), nn.Linear(800, 10)])


def model_dense(kind: str) -> Callable:
    """A hand-written dense torch loop: layers over all steps at once, LIF step by step."""
    import torch
    import torch.nn.functional as F

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[override]
            ctx.save_for_backward(x)
            return (x >= 0).float()

        @staticmethod
        def backward(ctx, g):  # type: ignore[override]
            (x,) = ctx.saved_tensors
            return g / (1 + 25 * x.abs()) ** 2

    def lif(cur: Any) -> Any:
        v = torch.zeros_like(cur[0])
        out = []
        for t in range(cur.shape[0]):
            v = BETA * v + cur[t]
            z = Spike.apply(v - 1.0)
            v = v - z
            out.append(z)
        return torch.stack(out)

    mods = _dense_modules(kind)

    def fwd(m: Any, x: Any) -> Any:
        if kind == "B4":
            return lif(m[1](lif(m[0](x))))
        t, b = x.shape[:2]
        h = lif(m[0](x.flatten(0, 1)).unflatten(0, (t, b)))
        h = F.avg_pool2d(h.flatten(0, 1), 2)
        h = lif(m[1](h).unflatten(0, (t, b)))
        h = F.avg_pool2d(h.flatten(0, 1), 2).flatten(1)
        return lif(m[2](h).unflatten(0, (t, b)))

    return _Wrap(mods, fwd)


def model_snntorch(kind: str) -> Callable:
    import snntorch as snn
    import torch
    from torch import nn

    if kind == "B4":
        net = nn.Sequential(nn.Linear(2312, 512), snn.Leaky(beta=BETA, init_hidden=True),
                            nn.Linear(512, 10), snn.Leaky(beta=BETA, init_hidden=True, output=True))
    else:
        net = nn.Sequential(
            nn.Conv2d(2, 16, 5), snn.Leaky(beta=BETA, init_hidden=True), nn.AvgPool2d(2),
            nn.Conv2d(16, 32, 5), snn.Leaky(beta=BETA, init_hidden=True), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(800, 10), snn.Leaky(beta=BETA, init_hidden=True, output=True),
        )

    def fwd(m: Any, x: Any) -> Any:
        from snntorch import utils

        utils.reset(m)
        return torch.stack([m(x[t])[0] for t in range(x.shape[0])])

    return _Wrap(net, fwd)


def model_norse(kind: str) -> Callable:
    import norse.torch as norse
    from torch import nn

    p = norse.LIFParameters(tau_mem_inv=(1 - BETA) / 1e-3 * 1.0536, v_th=1.0)  # beta ~ 0.9
    if kind == "B4":
        net = norse.SequentialState(nn.Linear(2312, 512), norse.LIF(p), nn.Linear(512, 10),
                                    norse.LIF(p))
    else:
        net = norse.SequentialState(
            norse.Lift(nn.Conv2d(2, 16, 5)), norse.LIF(p), norse.Lift(nn.AvgPool2d(2)),
            norse.Lift(nn.Conv2d(16, 32, 5)), norse.LIF(p), norse.Lift(nn.AvgPool2d(2)),
            norse.Lift(nn.Flatten()), nn.Linear(800, 10), norse.LIF(p),
        )
    return _Wrap(net, lambda m, x: m(x)[0])


def model_spikingjelly(kind: str) -> Callable:
    from spikingjelly.activation_based import functional, layer, neuron
    from torch import nn

    def lif() -> Any:
        return neuron.LIFNode(tau=10.0, decay_input=False, v_reset=None, step_mode="m")

    if kind == "B4":
        net = nn.Sequential(layer.Linear(2312, 512), lif(), layer.Linear(512, 10), lif())
    else:
        net = nn.Sequential(
            layer.Conv2d(2, 16, 5), lif(), layer.AvgPool2d(2),
            layer.Conv2d(16, 32, 5), lif(), layer.AvgPool2d(2),
            layer.Flatten(), layer.Linear(800, 10), lif(),
        )
    functional.set_step_mode(net, "m")

    def fwd(m: Any, x: Any) -> Any:
        functional.reset_net(m)
        return m(x)

    return _Wrap(net, fwd)


MODELS = {"spikeflow": model_spikeflow, "dense": model_dense, "snntorch": model_snntorch,
          "norse": model_norse, "spikingjelly": model_spikingjelly}


# ----------------------------------------------------------------------------- worker
def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(bench: str, fw: str, compiled: bool, steps: int, warmup: int) -> dict[str, Any]:
    """Time ``steps`` training steps in this process; returns the figures as a dict."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    batches = make_batches(bench, 4)
    model = MODELS[fw](bench.split("-")[0])
    params = list(model.module.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, fused=ADAM_FUSED)
    call: Callable = model
    if compiled:
        compiled_fwd = torch.compile(model.fwd)

        def call(x: Any) -> Any:
            return compiled_fwd(model.module, x)
    base = _rss_mb("VmRSS")
    rates: list[float] = []

    cpu: list[float] = []

    def step(i: int) -> float:
        x, y = batches[i % len(batches)]
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = call(x)
        loss = F.cross_entropy(out.sum(0), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        cpu.append(time.process_time() - c0)
        rates.append(float(out.detach().mean()))
        return dt

    for i in range(warmup):
        step(i)
    times: list[float] = []
    start = time.perf_counter()
    for i in range(steps):  # at least 3 steps, then stop at the time budget
        times.append(step(i))
        if len(times) >= 3 and time.perf_counter() - start > BUDGET_S:
            break
    cpu = cpu[warmup:]
    steps = len(times)
    inp = float(torch.stack([b[0].mean() for b in batches]).mean())
    return {
        "bench": bench, "framework": fw, "compiled": compiled,
        "steps": steps, "median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times),
        "cpu_ms": 1e3 * statistics.median(cpu),
        "peak_mb": _rss_mb("VmHWM") - base, "input_density": inp,
        "output_rate": statistics.mean(rates),
    }


def interleaved(bench: str, fws: list[str], compile_peers: bool, rounds: int,
                warmup: int) -> list[dict[str, Any]]:
    """All frameworks in one process, one step each in turn: same machine state for all.

    On a shared machine the load changes from second to second; taking the steps of every
    framework round-robin makes their medians comparable. (Peak memory needs separate
    processes: see :func:`worker`.)
    """
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    batches = make_batches(bench, 4)
    runs = []
    for fw in fws:
        for compiled in ([False, True] if compile_peers and fw not in ("spikeflow", "dense")
                         else [False]):
            model = MODELS[fw](bench.split("-")[0])
            opt = torch.optim.Adam(list(model.module.parameters()), lr=1e-3, fused=ADAM_FUSED)
            fwd = torch.compile(model.fwd) if compiled else model.fwd
            runs.append({"framework": fw, "compiled": compiled, "model": model, "opt": opt,
                         "fwd": fwd, "times": [], "cpu": []})

    def step(r: dict[str, Any], i: int) -> None:
        x, y = batches[i % len(batches)]
        c0, t0 = time.process_time(), time.perf_counter()
        out = r["fwd"](r["model"].module, x)
        loss = F.cross_entropy(out.sum(0), y)
        r["opt"].zero_grad(set_to_none=True)
        loss.backward()
        r["opt"].step()
        r["times"].append(time.perf_counter() - t0)
        r["cpu"].append(time.process_time() - c0)

    for r in runs:
        for i in range(warmup + 2 * r["compiled"]):
            step(r, i)
        r["times"].clear()
        r["cpu"].clear()
    for i in range(rounds):
        for r in runs:
            step(r, i)
    return [{"bench": bench, "framework": r["framework"], "compiled": r["compiled"],
             "median_ms": 1e3 * statistics.median(r["times"]), "min_ms": 1e3 * min(r["times"]),
             "cpu_ms": 1e3 * statistics.median(r["cpu"]), "steps": rounds}
            for r in runs]


# ----------------------------------------------------------------------------- driver
def run_one(bench: str, fw: str, compiled: bool, steps: int, warmup: int) -> dict[str, Any]:
    """Run one configuration in a fresh interpreter."""
    cmd = [sys.executable, __file__, "--worker", bench, fw, str(int(compiled)),
           "--steps", str(steps), "--warmup", str(warmup)]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=1800)
    for line in res.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    err = (res.stderr.strip().splitlines() or ["?"])[-1]
    return {"bench": bench, "framework": fw, "compiled": compiled, "error": err[:160]}


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", nargs="+", default=BENCHES, choices=BENCHES)
    ap.add_argument("--frameworks", nargs="+", default=FRAMEWORKS, choices=FRAMEWORKS)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile runs")
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=2,
                    help="run every configuration this many times, round-robin, and keep the "
                    "fastest median (the machine is shared; this filters out busy periods)")
    ap.add_argument("--threads", type=int, default=2, help="torch (and rayon) threads")
    ap.add_argument("--json", type=Path, help="also write all results to this file")
    ap.add_argument("--interleave", type=int, default=0, metavar="ROUNDS",
                    help="instead: all frameworks of a benchmark in one process, ROUNDS steps "
                    "each taken in turn (fair timing on a busy machine; no memory figures)")
    ap.add_argument("--omp-wait-policy", choices=["active", "passive"], default=None,
                    help="set OMP_WAIT_POLICY for torch's OpenMP threads (before torch loads; "
                    "applies to every framework). Passive stops them spinning on the cores "
                    "spikeflow's rayon threads need, but slows the peers' many small ops: run "
                    "both ways and compare each framework at its best")
    ap.add_argument("--worker", nargs=3, metavar=("BENCH", "FW", "COMPILED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.omp_wait_policy:
        if "torch" in sys.modules:
            raise SystemExit("--omp-wait-policy must be set before torch is imported")
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    os.environ["SPIKEFLOW_BENCH_THREADS"] = str(args.threads)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    global THREADS
    THREADS = args.threads
    if args.worker:
        bench, fw, comp = args.worker
        print(json.dumps(worker(bench, fw, comp == "1", args.steps, args.warmup)))
        return
    import torch

    if args.interleave:
        print(f"# interleaved, {args.threads} threads, OMP_WAIT_POLICY="
              f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}, load average {os.getloadavg()[0]:.1f}")
        print("| bench | framework | mode | median ms | min ms | CPU ms |")
        print("| --- | --- | --- | ---: | ---: | ---: |")
        for bench in args.bench:
            for r in interleaved(bench, args.frameworks, not args.no_compile, args.interleave,
                                 args.warmup):
                mode = "compiled" if r["compiled"] else "plain"
                print(f"| {bench} | {r['framework']} | {mode} | {r['median_ms']:.1f} | "
                      f"{r['min_ms']:.1f} | {r['cpu_ms']:.1f} |", flush=True)
        return

    print(f"# {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.1f}")
    configs = [(bench, fw, compiled) for bench in args.bench for fw in args.frameworks
               for compiled in ([False] if args.no_compile or fw in ("spikeflow", "dense")
                                else [False, True])]
    best: dict[tuple, dict[str, Any]] = {}
    for rep in range(args.repeat):
        for bench, fw, compiled in configs:
            r = run_one(bench, fw, compiled, args.steps, args.warmup + 2 * compiled)
            key = (bench, fw, compiled)
            mode = "compiled" if compiled else "plain"
            if "error" in r:
                print(f"[{rep}] {bench:10s} {fw:13s} {mode:8s} ERROR {r['error']}", flush=True)
                best.setdefault(key, r)
                continue
            print(f"[{rep}] {bench:10s} {fw:13s} {mode:8s} {r['median_ms']:8.1f} ms "
                  f"(min {r['min_ms']:7.1f}, cpu {r['cpu_ms']:7.1f})  peak +{r['peak_mb']:7.1f} MB  "
                  f"in {r['input_density']:.3f} out {r['output_rate']:.3f}", flush=True)
            if "error" in best.get(key, {"error": 1}) or r["median_ms"] < best[key]["median_ms"]:
                best[key] = r
    results = list(best.values())
    print()
    print("| bench | framework | mode | median ms | min ms | CPU ms | peak MB |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        mode = "compiled" if r["compiled"] else "plain"
        if "error" in r:
            print(f"| {r['bench']} | {r['framework']} | {mode} | failed: {r['error'][:60]} | | | |")
        else:
            print(f"| {r['bench']} | {r['framework']} | {mode} | {r['median_ms']:.1f} | "
                  f"{r['min_ms']:.1f} | {r['cpu_ms']:.1f} | {r['peak_mb']:.0f} |")
    print()
    print("| bench | spikeflow ms | fastest peer (ms) | speed-up | spikeflow peak MB | best peer peak MB |")
    print("|---|---|---|---|---|---|")
    for bench in args.bench:
        ok = [r for r in results if r["bench"] == bench and "error" not in r]
        ours = [r for r in ok if r["framework"] == "spikeflow"]
        peers = [r for r in ok if r["framework"] not in ("spikeflow", "dense")]
        if not ours or not peers:
            continue
        best = min(peers, key=lambda r: r["median_ms"])
        tag = f"{best['framework']}{' (compiled)' if best['compiled'] else ''}"
        print(f"| {bench} | {ours[0]['median_ms']:.1f} | {tag} {best['median_ms']:.1f} | "
              f"{best['median_ms'] / ours[0]['median_ms']:.2f}x | {ours[0]['peak_mb']:.0f} | "
              f"{min(r['peak_mb'] for r in peers):.0f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
