#!/usr/bin/env python3
"""Brunel (2000) balanced network, delta synapses: spikeflow against NEST and Brian2.

The network is NEST's ``brunel_delta_nest`` example at two sizes:

* small: NE=4000, NI=1000, fixed in-degree CE=400 excitatory + CI=100 inhibitory;
* large: NE=8000, NI=2000, CE=800 + CI=200;

multapses and autapses allowed, J=0.1 mV, g=5 (inhibitory weight -0.5 mV), eta=2, tau_m=20 ms,
V_th=20 mV, V_reset=0 mV (rest 0 mV, V_m(0)=0), t_ref=2 ms, delay 1.5 ms, dt=0.1 ms; every
neuron is driven by its own Poisson train at eta*nu_th*CE = 20 kHz with weight J
(nu_th = V_th/(J*CE*tau_m)); 1 s of biological time.

Every (simulator, size, repeat) runs in a fresh subprocess so that memory figures do not
contaminate each other.  Reported per simulator and size (median over repeats):

* build time (populations + connections; for Brian2 cpp_standalone: code generation and
  compilation) and simulation wall time (the 1 s of biological time only);
* synaptic events/s: recurrent synaptic events delivered / simulation wall time, counted the
  same way for every simulator: recurrent spikes x (CE+CI) (with fixed in-degree the mean
  out-degree of every neuron is CE+CI); spikeflow's own counters are reported alongside;
* bytes per synapse: growth of the process's resident memory across the recurrent
  connect calls / number of recurrent synapses (not measurable for cpp_standalone, whose
  synapses are built inside the compiled binary);
* peak memory (max RSS of the worker and its children), mean firing rate.

Usage::

    python benches/brunel.py                       # all sizes, all simulators found, 3 repeats
    python benches/brunel.py --sizes small --sims spikeflow,nest1 --repeats 1
    python benches/brunel.py --T 200               # shorter biological time (quick look)

Brian2 2.9 does not import with numpy >= 2.4 (``ndarray.ptp`` is gone, fixed after 2.9); give
an interpreter whose numpy is older with ``--brian2-python`` (or $BRIAN2_PYTHON), e.g. a
virtual environment made with ``--system-site-packages`` plus ``pip install "numpy<2.4"``.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SIZES = {
    "small": dict(NE=4000, NI=1000, CE=400, CI=100),
    "large": dict(NE=8000, NI=2000, CE=800, CI=200),
}
J = 0.1  # mV
G = 5.0
ETA = 2.0
TAU_M = 20.0  # ms
THETA = 20.0  # mV
V_RESET = 0.0
T_REF = 2.0
DELAY = 1.5
DT = 0.1
ALL_SIMS = ["spikeflow", "nest1", "nest2", "brian2", "brian2cpp"]
LABELS = {
    "spikeflow": "spikeflow (1 thread)",
    "nest1": "NEST (1 thread)",
    "nest2": "NEST (2 threads)",
    "brian2": "Brian2 runtime (cython)",
    "brian2cpp": "Brian2 cpp_standalone",
}


def params(size: str) -> dict:
    p = dict(SIZES[size])
    p["N"] = p["NE"] + p["NI"]
    nu_th = THETA / (J * p["CE"] * TAU_M)  # 1/ms
    p["p_rate"] = 1000.0 * ETA * nu_th * p["CE"]  # Hz, = 20 kHz at both sizes
    p["n_syn"] = p["N"] * (p["CE"] + p["CI"])
    return p


def rss_bytes() -> int:
    """Current resident set size of this process, after returning freed heap to the OS
    (so that temporaries freed by the connect calls do not count as synapse memory)."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_mb(children: bool = False) -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if children:
        kb = max(kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return kb / 1024.0


# ================================================================================ workers


def run_spikeflow(size: str, T: float, seed: int) -> dict:
    import numpy as np
    import spikeflow as sf

    p = params(size)
    t0 = time.perf_counter()
    net = sf.Network(dt=DT, seed=seed)
    model = sf.LIF(tau_m=TAU_M, v_rest=0.0, v_th=THETA, v_reset=V_RESET, t_ref=T_REF, c_m=1.0,
                   v_init=0.0)
    exc = net.add_population(p["NE"], model, name="E")
    inh = net.add_population(p["NI"], model, name="I")
    drive_e = net.add_poisson(p["NE"], rate=p["p_rate"], name="noise_E")
    drive_i = net.add_poisson(p["NI"], rate=p["p_rate"], name="noise_I")
    net.connect(drive_e, exc, sf.OneToOne(), weight=J, delay=DELAY)
    net.connect(drive_i, inh, sf.OneToOne(), weight=J, delay=DELAY)
    rss0 = rss_bytes()
    rec_projs = []
    for post in (exc, inh):
        rec_projs.append(net.connect(exc, post, sf.FixedInDegree(p["CE"]), weight=J, delay=DELAY))
        rec_projs.append(net.connect(inh, post, sf.FixedInDegree(p["CI"]), weight=-G * J, delay=DELAY))
    rss1 = rss_bytes()
    rec_e = net.record_spikes(exc)
    rec_i = net.record_spikes(inh)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    net.run(T)
    sim = time.perf_counter() - t1
    spikes = len(rec_e.times) + len(rec_i.times)
    c = net.counters()
    rec_keys = {f"{pr.index}:" for pr in rec_projs}
    counted = sum(v["synaptic_events"] for k, v in c["projections"].items()
                  if k.split(":", 1)[0] + ":" in rec_keys)
    engine_bps = float(np.mean([pr.bytes_per_synapse for pr in rec_projs]))
    return dict(build_s=build, sim_s=sim, spikes=spikes, rss_delta=rss1 - rss0,
                counter_events=int(counted), engine_bytes_per_synapse=engine_bps,
                version=getattr(sf, "__version__", "?"))


def run_nest(size: str, T: float, seed: int, threads: int) -> dict:
    import nest

    try:
        nest.set_verbosity("M_ERROR")
    except Exception:
        pass
    p = params(size)
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT, "local_num_threads": threads, "rng_seed": seed + 1,
                          "print_time": False})
    t0 = time.perf_counter()
    neuron_params = {"C_m": 1.0, "tau_m": TAU_M, "t_ref": T_REF, "E_L": 0.0, "V_reset": V_RESET,
                     "V_m": 0.0, "V_th": THETA}
    nodes_ex = nest.Create("iaf_psc_delta", p["NE"], params=neuron_params)
    nodes_in = nest.Create("iaf_psc_delta", p["NI"], params=neuron_params)
    noise = nest.Create("poisson_generator", params={"rate": p["p_rate"]})
    spikes_rec = nest.Create("spike_recorder")
    nest.CopyModel("static_synapse", "excitatory", {"weight": J, "delay": DELAY})
    nest.CopyModel("static_synapse", "inhibitory", {"weight": -G * J, "delay": DELAY})
    nest.Connect(noise, nodes_ex, syn_spec="excitatory")
    nest.Connect(noise, nodes_in, syn_spec="excitatory")
    nest.Connect(nodes_ex + nodes_in, spikes_rec, syn_spec="excitatory")
    rss0 = rss_bytes()
    nest.Connect(nodes_ex, nodes_ex + nodes_in, {"rule": "fixed_indegree", "indegree": p["CE"]}, "excitatory")
    nest.Connect(nodes_in, nodes_ex + nodes_in, {"rule": "fixed_indegree", "indegree": p["CI"]}, "inhibitory")
    rss1 = rss_bytes()
    nest.Prepare()  # kernel and buffer set-up, counted as build
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    nest.Run(T)
    sim = time.perf_counter() - t1
    nest.Cleanup()
    spikes = int(spikes_rec.n_events)
    return dict(build_s=build, sim_s=sim, spikes=spikes, rss_delta=rss1 - rss0,
                version=str(getattr(nest, "__version__", "?")))


def _brian2_network(size: str, seed: int):
    import numpy as np
    from brian2 import Network, NeuronGroup, PoissonInput, SpikeMonitor, Synapses, defaultclock, ms, mV
    from brian2 import seed as b2seed

    p = params(size)
    b2seed(seed)
    defaultclock.dt = DT * ms
    eqs = "dv/dt = -v / tau : volt (unless refractory)"
    namespace = dict(tau=TAU_M * ms, theta=THETA * mV, vr=V_RESET * mV, J=J * mV, JI=-G * J * mV)
    group = NeuronGroup(p["N"], eqs, threshold="v >= theta", reset="v = vr",
                        refractory=T_REF * ms, method="exact", namespace=namespace)
    group.v = 0 * mV
    # each neuron its own 20 kHz train: CE inputs at eta*nu_th each, input discarded while
    # refractory (as NEST does)
    nu_ex = p["p_rate"] / p["CE"]
    from brian2 import Hz

    drive = PoissonInput(group, "v", N=p["CE"], rate=nu_ex * Hz, weight="J*int(not_refractory)")
    rng = np.random.default_rng(seed)
    N = p["N"]
    posts = []
    # fixed in-degree with multapses and autapses: for every target CE (CI) presynaptic
    # neurons drawn uniformly from E (I)
    se = Synapses(group, group, on_pre="v_post += J*int(not_refractory_post)", delay=DELAY * ms,
                  namespace=namespace)
    si = Synapses(group, group, on_pre="v_post += JI*int(not_refractory_post)", delay=DELAY * ms,
                  namespace=namespace)
    pre_e = rng.integers(0, p["NE"], N * p["CE"], dtype=np.int32)
    post_e = np.repeat(np.arange(N, dtype=np.int32), p["CE"])
    pre_i = rng.integers(p["NE"], N, N * p["CI"], dtype=np.int32)
    post_i = np.repeat(np.arange(N, dtype=np.int32), p["CI"])
    posts.extend([(se, pre_e, post_e), (si, pre_i, post_i)])
    mon = SpikeMonitor(group, record=False)
    net = Network(group, drive, se, si, mon)
    return net, posts, mon


def run_brian2(size: str, T: float, seed: int) -> dict:
    import brian2
    from brian2 import ms, prefs

    prefs.codegen.target = "cython"
    t0 = time.perf_counter()
    net, posts, mon = _brian2_network(size, seed)
    rss0 = rss_bytes()
    for syn, i, j in posts:
        syn.connect(i=i, j=j)
    del posts, i, j
    rss1 = rss_bytes()
    net.run(DT * ms)  # code generation and compilation happen here (one step)
    build = time.perf_counter() - t0
    n0 = int(mon.num_spikes)
    t1 = time.perf_counter()
    net.run(T * ms)
    sim = time.perf_counter() - t1
    return dict(build_s=build, sim_s=sim, spikes=int(mon.num_spikes) - n0, rss_delta=rss1 - rss0,
                version=brian2.__version__)


def run_brian2cpp(size: str, T: float, seed: int) -> dict:
    import brian2
    from brian2 import device, ms, set_device

    build_dir = os.path.join(tempfile.gettempdir(), f"spikeflow_brunel_cpp_{size}")
    set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    brian2.prefs.devices.cpp_standalone.openmp_threads = 0
    t0 = time.perf_counter()
    net, posts, mon = _brian2_network(size, seed)
    for syn, i, j in posts:
        syn.connect(i=i, j=j)
    net.run(T * ms)
    device.build(directory=build_dir, compile=True, run=True, debug=False, clean=False)
    total = time.perf_counter() - t0
    sim = float(device._last_run_time)  # the simulation loop, timed inside the binary
    return dict(build_s=total - sim, sim_s=sim, spikes=int(mon.num_spikes), rss_delta=None,
                version=brian2.__version__)


def worker(sim: str, size: str, T: float, seed: int) -> dict:
    if sim == "spikeflow":
        out = run_spikeflow(size, T, seed)
    elif sim in ("nest1", "nest2"):
        out = run_nest(size, T, seed, threads=int(sim[-1]))
    elif sim == "brian2":
        out = run_brian2(size, T, seed)
    elif sim == "brian2cpp":
        out = run_brian2cpp(size, T, seed)
    else:
        raise SystemExit(f"unknown simulator {sim}")
    p = params(size)
    out["peak_rss_mb"] = peak_rss_mb(children=(sim == "brian2cpp"))
    out["events"] = out["spikes"] * (p["CE"] + p["CI"])
    out["events_per_s"] = out["events"] / out["sim_s"]
    out["rate_hz"] = out["spikes"] / (p["N"] * T / 1000.0)
    out["synapses"] = p["n_syn"]
    out["bytes_per_synapse"] = (out["rss_delta"] / p["n_syn"]) if out.get("rss_delta") is not None else None
    return out


# ================================================================================ driver


def available(sim: str, brian2_python: str) -> tuple:
    """(available?, reason)."""
    mod = {"spikeflow": "spikeflow", "nest1": "nest", "nest2": "nest", "brian2": "brian2",
           "brian2cpp": "brian2"}[sim]
    py = brian2_python if mod == "brian2" else sys.executable
    code = f"import {mod}"
    if mod == "spikeflow":
        code += "; assert hasattr(spikeflow, 'Network')"
    r = subprocess.run([py, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        return False, (r.stderr.strip().splitlines() or ["import failed"])[-1]
    if sim == "nest2" and (os.cpu_count() or 1) < 2:
        return False, "fewer than 2 cores"
    return True, ""


def run_one(sim: str, size: str, T: float, seed: int, brian2_python: str, timeout: float) -> dict:
    py = brian2_python if sim.startswith("brian2") else sys.executable
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               SPIKEFLOW_THREADS="1", RAYON_NUM_THREADS="1")
    cmd = [py, os.path.abspath(__file__), "--worker", sim, "--sizes", size, "--T", str(T),
           "--seed", str(seed)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        err = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {r.returncode}: {err}"}
    return json.loads(lines[-1])


def median_of(runs: list, key: str):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="small,large", help="comma-separated: small,large")
    ap.add_argument("--sims", default=",".join(ALL_SIMS), help="comma-separated: " + ",".join(ALL_SIMS))
    ap.add_argument("--repeats", type=int, default=3, help="runs per simulator and size (median)")
    ap.add_argument("--T", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    ap.add_argument("--brian2-python", default=os.environ.get("BRIAN2_PYTHON", sys.executable),
                    help="interpreter for the Brian2 runs (numpy < 2.4 for Brian2 2.9)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.sizes, args.T, args.seed)), flush=True)
        return 0

    sizes = [s for s in args.sizes.split(",") if s]
    sims = [s for s in args.sims.split(",") if s]
    for s in sizes:
        if s not in SIZES:
            ap.error(f"unknown size {s}")
    for s in sims:
        if s not in ALL_SIMS:
            ap.error(f"unknown simulator {s}")
    results = {}
    skipped = {}
    for sim in sims:
        ok, why = available(sim, args.brian2_python)
        if not ok:
            skipped[sim] = why
            print(f"# skipping {sim}: {why}", file=sys.stderr)
    for size in sizes:
        for sim in sims:
            if sim in skipped:
                continue
            runs = []
            for rep in range(args.repeats):
                r = run_one(sim, size, args.T, args.seed + rep, args.brian2_python, args.timeout)
                print(f"# {size} {sim} run {rep + 1}/{args.repeats}: "
                      + (r["error"] if "error" in r else
                         f"sim {r['sim_s']:.2f} s, build {r['build_s']:.2f} s, rate {r['rate_hz']:.2f} Hz, "
                         f"{r['events_per_s'] / 1e6:.1f} M events/s"), file=sys.stderr, flush=True)
                runs.append(r)
            good = [r for r in runs if "error" not in r]
            if not good:
                results[(size, sim)] = {"error": runs[-1]["error"]}
                continue
            agg = {k: median_of(good, k) for k in ("build_s", "sim_s", "events_per_s", "bytes_per_synapse",
                                                      "peak_rss_mb", "rate_hz", "spikes", "events")}
            agg["runs"] = len(good)
            agg["version"] = good[0].get("version")
            for k in ("counter_events", "engine_bytes_per_synapse"):
                if k in good[0]:
                    agg[k] = median_of(good, k)
            results[(size, sim)] = agg

    # table
    print()
    hdr = f"{'size':6} {'simulator':26} {'build s':>8} {'sim s':>8} {'M events/s':>11} {'B/syn':>7} {'peak MB':>8} {'rate Hz':>8}"
    print(hdr)
    print("-" * len(hdr))
    summary = {}
    for size in sizes:
        peers = {}
        for sim in sims:
            r = results.get((size, sim))
            if r is None:
                continue
            if "error" in r:
                print(f"{size:6} {LABELS[sim]:26} error: {r['error']}")
                continue
            print(f"{size:6} {LABELS[sim]:26} {fmt(r['build_s'], '8.2f')} {fmt(r['sim_s'], '8.2f')} "
                  f"{fmt(r['events_per_s'] / 1e6, '11.1f')} {fmt(r['bytes_per_synapse'], '7.1f')} "
                  f"{fmt(r['peak_rss_mb'], '8.0f')} {fmt(r['rate_hz'], '8.2f')}")
            if sim != "spikeflow":
                peers[sim] = r
        sfr = results.get((size, "spikeflow"))
        s = {}
        if peers:
            best = max(peers, key=lambda k: peers[k]["events_per_s"])
            s["best_peer"] = best
            s["best_peer_events_per_s"] = peers[best]["events_per_s"]
            best1 = [k for k in peers if k != "nest2"]
            if best1:
                b1 = max(best1, key=lambda k: peers[k]["events_per_s"])
                s["best_single_thread_peer"] = b1
            rates = [v["rate_hz"] for v in peers.values()]
            s["peer_rate_hz_mean"] = statistics.mean(rates)
        if sfr and "error" not in sfr and peers:
            s["speedup_vs_best_peer"] = sfr["events_per_s"] / s["best_peer_events_per_s"]
            s["rate_rel_diff_vs_peers"] = max(abs(sfr["rate_hz"] - v["rate_hz"]) / v["rate_hz"]
                                              for v in peers.values())
            s["rate_within_5pct"] = s["rate_rel_diff_vs_peers"] <= 0.05
            s["meets_4x"] = s["speedup_vs_best_peer"] >= 4.0
            s["meets_8B"] = (sfr["bytes_per_synapse"] is not None and sfr["bytes_per_synapse"] <= 8.0)
        summary[size] = s
        if "speedup_vs_best_peer" in s:
            print(f"{size:6} spikeflow / best peer ({LABELS[s['best_peer']]}): "
                  f"{s['speedup_vs_best_peer']:.2f}x events/s; rate differs by at most "
                  f"{100 * s['rate_rel_diff_vs_peers']:.1f} % from the peers")
    out = {
        "benchmark": "brunel_delta",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "T_ms": args.T, "repeats": args.repeats, "skipped": skipped,
        "results": {f"{size}/{sim}": r for (size, sim), r in results.items()},
        "summary": summary,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
