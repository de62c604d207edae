"""Running: Ctrl-C interrupts a long run and leaves the network usable; the GIL is released
while the engine works; absurd requests are refused with a memory estimate."""
import _thread
import signal
import threading
import time

import numpy as np
import pytest
import spikeflow as sf
from spikeflow.models import BrunelParams, brunel


def test_ctrl_c_interrupts_a_long_run_and_the_network_stays_usable():
    net, exc, _ = brunel(BrunelParams(), dt=0.1, seed=3)
    rec = net.record_spikes(exc)
    # Python's Ctrl-C handler, whatever the runner inherited: a test run started in the
    # background by a shell (`cmd &`, nohup) ignores SIGINT, and interrupt_main does nothing
    # for an ignored signal.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.run(1_000_000.0)  # minutes of work if not interrupted
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    t_stop = net.time
    assert 0.0 < t_stop < 1_000_000.0
    assert np.all(rec.times <= t_stop)
    # Usable: it goes on from where it stopped, on the grid.
    net.run(10.0)
    assert net.time == pytest.approx(t_stop + 10.0)
    assert rec.times.max() > t_stop - 10.0


def test_the_gil_is_released_while_running():
    net, _, _ = brunel(BrunelParams(), dt=0.1, seed=3)
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    th = threading.Thread(target=tick)
    th.start()
    t0 = time.perf_counter()
    net.run(300.0)
    elapsed = time.perf_counter() - t0
    stop.set()
    th.join()
    # A thread sleeping 1 ms per tick would be starved (a handful of ticks at 0.1 s GIL
    # switches... or none) if the engine held the GIL; released, it ticks freely.
    assert len(ticks) > 0.2 * elapsed / 0.001


@pytest.mark.parametrize("connector", [sf.AllToAll(), sf.FixedProbability(0.9), sf.FixedInDegree(90_000)])
def test_absurd_connectivity_is_refused_with_an_estimate(connector):
    net = sf.Network(dt=0.1)
    a = net.add_population(100_000, sf.LIF())
    b = net.add_population(100_000, sf.LIF())
    with pytest.raises(sf.MemoryLimitError, match=r"would need about [0-9.]+ GiB"):
        net.connect(a, b, connector)
    # Nothing was half-built: the network still runs.
    net.run(1.0)
    assert net.counters()["synapses"] == 0
