#!/usr/bin/env python3
"""Song, Miller & Abbott (2000): 1000 Poisson inputs at 15 Hz onto one conductance-based LIF
neuron, additive STDP, 100 s of biological time; the final weights become bimodal.

The model is Brian2's documented STDP example (tau_m=10 ms, E_L=-74 mV, V_th=-54 mV,
V_reset=-60 mV, E_e=0 mV, tau_e=5 ms, g_max=0.01, A_pre=0.01 g_max,
A_post=-1.05 A_pre tau_pre/tau_post, tau_pre=tau_post=20 ms, initial weights uniform in
[0, g_max], dt=0.1 ms). spikeflow runs it in this process; Brian2 (runtime/cython and
cpp_standalone) and NEST (iaf_cond_exp + stdp_synapse, weights in nS = g * g_L) run in
subprocesses when installed. Differences that remain: spikeflow and NEST need a delay of at
least one step (0.1 ms; Brian2 uses none), Brian2's example integrates with forward Euler,
spikeflow with exponential Euler, NEST with adaptive RK45.

Prints wall times (simulation; build and compilation separately), the ratio against the
fastest peer, the fractions of weights below 0.1 g_max and above 0.9 g_max, histograms, and a
final JSON line.

    python benches/stdp_song.py [--T 100] [--sims spikeflow,brian2,brian2cpp,nest] [--brian2-python PY]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

N, RATE, GMAX = 1000, 15.0, 0.01
A_PRE = 0.01 * GMAX
A_POST = 1.05 * A_PRE  # magnitude of depression (tau_pre = tau_post)


def run_spikeflow(T_ms: float, seed: int = 1) -> dict:
    import spikeflow as sf

    t0 = time.perf_counter()
    net = sf.Network(dt=0.1, seed=seed)
    inp = net.add_poisson(N, RATE)
    out = net.add_population(1, sf.LIF(tau_m=10.0, v_rest=-74.0, v_th=-54.0, v_reset=-60.0, t_ref=0.0,
                                       synapse="cond_exp", tau_syn_ex=5.0, e_rev_ex=0.0))
    proj = net.connect(inp, out, sf.AllToAll(), weight=sf.Uniform(0.0, GMAX), delay=0.1,
                       plasticity=sf.STDP(tau_plus=20.0, tau_minus=20.0, a_plus=A_PRE, a_minus=A_POST,
                                          w_min=0.0, w_max=GMAX))
    rec = net.record_spikes(out)
    t1 = time.perf_counter()
    net.run(T_ms)
    t2 = time.perf_counter()
    return {"build_s": t1 - t0, "sim_s": t2 - t1, "weights": proj.weights.tolist(),
            "post_rate_hz": len(rec) / (T_ms / 1000.0)}


BRIAN2_WORKER = r'''
import json, sys, time
from brian2 import *
T, standalone, out = float(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
if standalone:
    set_device("cpp_standalone", directory=sys.argv[4])
prefs.codegen.target = "cython" if not standalone else prefs.codegen.target
seed(1)
taum = 10*ms; taupre = 20*ms; taupost = taupre; Ee = 0*mV; vt = -54*mV; vr = -60*mV; El = -74*mV
taue = 5*ms; F = 15*Hz; gmax = .01
dApre = .01; dApost = -dApre * taupre / taupost * 1.05; dApost *= gmax; dApre *= gmax
eqs = """dv/dt = (ge * (Ee-v) + El - v) / taum : volt
dge/dt = -ge / taue : 1"""
t0 = time.perf_counter()
inp = PoissonGroup(1000, rates=F)
neurons = NeuronGroup(1, eqs, threshold="v>vt", reset="v = vr", method="euler")
S = Synapses(inp, neurons, """w : 1
dApre/dt = -Apre / taupre : 1 (event-driven)
dApost/dt = -Apost / taupost : 1 (event-driven)""",
             on_pre="""ge += w
Apre += dApre
w = clip(w + Apost, 0, gmax)""",
             on_post="""Apost += dApost
w = clip(w + Apre, 0, gmax)""")
S.connect()
S.w = "rand() * gmax"
mon = SpikeMonitor(neurons)
t1 = time.perf_counter()
run(T*ms, report=None)
t2 = time.perf_counter()
res = {"build_s": t1 - t0, "sim_s": t2 - t1, "weights": [float(x) for x in S.w[:]],
       "post_rate_hz": mon.num_spikes / (T / 1000.0)}
if standalone:
    # Wall time of the compiled simulation itself, and the compile/run total separately.
    res["total_s"] = t2 - t1
    res["sim_s"] = float(device._last_run_time)
    res["build_s"] = (t2 - t1) - res["sim_s"] + (t1 - t0)
json.dump(res, open(out, "w"))
'''

NEST_WORKER = r'''
import json, sys, time
import nest
T, out = float(sys.argv[1]), sys.argv[2]
nest.set_verbosity("M_ERROR"); nest.ResetKernel(); nest.resolution = 0.1; nest.rng_seed = 1
g_L = 16.7  # nS: NEST's iaf_cond_exp default; weights below are g * g_L
C_m = g_L * 10.0  # tau_m = C_m / g_L = 10 ms
gmax = 0.01 * g_L
t0 = time.perf_counter()
neuron = nest.Create("iaf_cond_exp", params={"C_m": C_m, "g_L": g_L, "E_L": -74.0, "V_th": -54.0,
                     "V_reset": -60.0, "t_ref": 0.0, "E_ex": 0.0, "tau_syn_ex": 5.0, "V_m": -74.0})
pg = nest.Create("poisson_generator", params={"rate": 15.0})
parrots = nest.Create("parrot_neuron", 1000)
nest.Connect(pg, parrots)
nest.CopyModel("stdp_synapse", "song", {"tau_plus": 20.0, "lambda": 0.01, "alpha": 1.05, "mu_plus": 0.0,
               "mu_minus": 0.0, "Wmax": gmax})
nest.SetStatus(neuron, {"tau_minus": 20.0})
nest.Connect(parrots, neuron, syn_spec={"synapse_model": "song", "delay": 0.1,
             "weight": nest.random.uniform(0.0, gmax)})
rec = nest.Create("spike_recorder"); nest.Connect(neuron, rec)
t1 = time.perf_counter()
nest.Simulate(T)
t2 = time.perf_counter()
w = [float(x) / g_L for x in nest.GetConnections(parrots, neuron).get("weight")]
json.dump({"build_s": t1 - t0, "sim_s": t2 - t1, "weights": w,
           "post_rate_hz": rec.get("n_events") / (T / 1000.0)}, open(out, "w"))
'''


def run_worker(code: str, args: list, python: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "worker.py")
        with open(script, "w") as f:
            f.write(code)
        out = os.path.join(d, "out.json")
        cmd = [python, script] + [str(a) for a in args[:1]] + args[1:-1] + [out] + (
            [os.path.join(d, "standalone")] if code is BRIAN2_WORKER else [])
        if code is BRIAN2_WORKER:
            cmd = [python, script, str(args[0]), args[1], out, os.path.join(d, "standalone")]
        else:
            cmd = [python, script, str(args[0]), out]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(p.stderr[-2000:])
        return json.load(open(out))


def summarize(w: list) -> dict:
    w = np.asarray(w) / GMAX
    return {"frac_below_0.1": float(np.mean(w < 0.1)), "frac_above_0.9": float(np.mean(w > 0.9)),
            "histogram": np.histogram(w, bins=10, range=(0, 1))[0].tolist()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=float, default=100.0, help="biological time in s (default 100)")
    ap.add_argument("--sims", default="spikeflow,brian2,brian2cpp,nest")
    ap.add_argument("--brian2-python", default=os.environ.get("BRIAN2_PYTHON", sys.executable))
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per simulator, interleaved; the median run is reported (default 3)")
    args = ap.parse_args()
    T_ms = args.T * 1000.0
    sims = args.sims.split(",")
    results, skipped = {}, {}
    def run_once(sim: str) -> dict:
        if sim == "spikeflow":
            return run_spikeflow(T_ms)
        if sim in ("brian2", "brian2cpp"):
            return run_worker(BRIAN2_WORKER, [T_ms, "1" if sim == "brian2cpp" else "0"], args.brian2_python)
        if sim == "nest":
            return run_worker(NEST_WORKER, [T_ms], sys.executable)
        raise ValueError(f"unknown simulator {sim}")

    # Rounds over all simulators (interleaved, so load changes hit them alike); median run kept.
    runs: dict = {sim: [] for sim in sims}
    for _ in range(max(args.repeat, 1)):
        for sim in sims:
            if sim in skipped:
                continue
            try:
                runs[sim].append(run_once(sim))
            except Exception as exc:  # a peer that is not installed or fails is reported, not fatal
                skipped[sim] = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
                print(f"# {sim}: skipped ({skipped[sim]})", file=sys.stderr)
    for sim in sims:
        if sim in skipped or not runs[sim]:
            continue
        ordered = sorted(runs[sim], key=lambda x: x["sim_s"])
        r = ordered[len(ordered) // 2]
        r["sim_s_all"] = [round(x["sim_s"], 4) for x in runs[sim]]
        r.update(summarize(r.pop("weights")))
        results[sim] = r
        print(f"# {sim}: sim {r['sim_s']:.2f} s (build {r['build_s']:.2f} s), post rate {r['post_rate_hz']:.1f} Hz, "
              f"w<0.1gmax {r['frac_below_0.1']:.2f}, w>0.9gmax {r['frac_above_0.9']:.2f}", file=sys.stderr)
    print(f"{'simulator':12s} {'sim s':>8s} {'build s':>8s} {'rate Hz':>8s} {'<0.1':>6s} {'>0.9':>6s}  histogram (10 bins of w/gmax)")
    for sim, r in results.items():
        print(f"{sim:12s} {r['sim_s']:8.2f} {r['build_s']:8.2f} {r['post_rate_hz']:8.1f} {r['frac_below_0.1']:6.2f} "
              f"{r['frac_above_0.9']:6.2f}  {r['histogram']}")
    summary = {}
    peers = {k: v for k, v in results.items() if k != "spikeflow"}
    if "spikeflow" in results and peers:
        best = min(peers, key=lambda k: peers[k]["sim_s"])
        sfr = results["spikeflow"]
        summary = {"fastest_peer": best, "speedup": peers[best]["sim_s"] / sfr["sim_s"]}
        if "brian2" in results or "brian2cpp" in results:
            b = results.get("brian2cpp") or results["brian2"]
            summary["diff_below_0.1_vs_brian2"] = sfr["frac_below_0.1"] - b["frac_below_0.1"]
            summary["diff_above_0.9_vs_brian2"] = sfr["frac_above_0.9"] - b["frac_above_0.9"]
        print(f"spikeflow / fastest peer ({best}): {summary['speedup']:.1f}x")
    print(json.dumps({"benchmark": "stdp_song", "T_s": args.T, "results": results, "skipped": skipped,
                      "summary": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
