"""Event-file decoding speed: spikeflow vs Tonic, expelliarmus and aedat, in one run.

Decodes every N-MNIST sample under ``<data>/nmnist`` and every AEDAT / EVT / DAT file under
``<data>/events`` with each library that can read the format, and prints events/s and how
many times faster spikeflow is. ``<data>`` is ``$SPIKEFLOW_DATA`` or ``<repo>/../shared/data``.

Each row is the best of ``--repeat`` passes over all files of a format, files warm in the
page cache; the passes of all rows of a format are interleaved (round-robin, rotating
order), so machine load affects them alike. Rows:

* ``spikeflow`` / ``tonic`` / ``expelliarmus`` / ``aedat``: one reader call per file in a
  Python loop over the list, each result dropped (how a Tonic dataset reads samples);
* ``spikeflow read_many``: one call for the whole list (parallel Rust threads), all
  arrays kept; ``tonic, list of all``: Tonic's loop keeping every array the same way;
  ``spikeflow read_many, fresh buffer``: the same with the buffer cache emptied before
  each pass (untimed), so the output memory is new, as on a first call;
* ``... from memory`` (N-MNIST): decoding bytes already in RAM (Tonic's stream mode);
* ``tonic`` on AEDAT 2.0 is ``tonic.io.read_dvs_128``'s numpy path repaired (the function
  itself raises on every file); ``tonic POKERDVS path (dv)`` is how Tonic's POKERDVS dataset
  reads AEDAT 2.0, through ``dv.LegacyAedatFile`` (``pip install dv``), shown for reference.

The last column gives, for spikeflow rows, the Tonic (else fastest peer) time divided by
this row's time: against the per-file loop and, for ``read_many``, also against Tonic
keeping all arrays.

    python benches/data.py [--repeat 9] [--markdown] [--threads N]
"""
from __future__ import annotations

import argparse
import glob
import os
import platform
import time
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import spikeflow.data as sd

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPIKEFLOW_DATA", REPO.parent / "shared" / "data"))


def _tonic_aedat2(path: str) -> np.ndarray:
    # tonic.io.read_dvs_128 fails on every file (it unpacks 3 return values into 2), so this
    # is its AEDAT 2.0 reading path: header scan + numpy fromfile + jAER DVS128 address bits.
    import tonic.io as tio

    version, start, _ = tio.read_aedat_header_from_file(path)
    raw = tio.get_aer_events_from_file(path, version, start)
    a = raw["address"]
    return tio.make_structured_array(
        127 - ((a >> 1) & 0x7F), 127 - ((a >> 8) & 0x7F), raw["timeStamp"], 1 - (a & 1)
    )


def _tonic_pokerdvs(path: str) -> np.ndarray:
    # the AEDAT 2.0 path of Tonic's only dataset that reads such files (POKERDVS): dv's
    # LegacyAedatFile, one Python object per event. It applies DAVIS address bits to every
    # file, so on these DVS128 recordings its x, y and p are wrong (timestamps are right).
    from dv import LegacyAedatFile

    with LegacyAedatFile(path) as f:
        return np.array([(e.timestamp, e.x, e.y, e.polarity) for e in f._read_event_v2()],
                        dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "?")])


def _sf_read(path: str, fmt: str) -> np.ndarray:
    return sd.read(path, fmt)


def _each(reader: Callable[[str], np.ndarray], paths: list[str]) -> int:
    return sum(len(reader(p)) for p in paths)


def _all_kept(reader: Callable[[str], np.ndarray], paths: list[str]) -> int:
    kept = [reader(p) for p in paths]
    return sum(len(a) for a in kept)


def _read_many(paths: list[str], fmt: str, threads: int | None) -> int:
    return sum(len(a) for a in sd.read_many(paths, fmt, threads=threads))


def _sf_memory(blobs: list[bytes]) -> int:
    return sum(len(sd.decode(b, "nmnist")) for b in blobs)


def _tonic_memory(blobs: list[bytes]) -> int:
    import io

    import tonic.io as tio

    return sum(len(tio.read_mnist_file(io.BytesIO(b), tio.events_struct, is_stream=True)) for b in blobs)


def peers() -> dict[str, dict[str, Callable[[str], np.ndarray]]]:
    """Per format: library name -> single-file reader."""
    out: dict[str, dict[str, Callable[[str], np.ndarray]]] = {}
    fmts = ["nmnist", "aedat2", "aedat4", "evt2", "evt3", "dat"]
    for f in fmts:
        out[f] = {"spikeflow": partial(_sf_read, fmt=f)}
    try:
        import tonic.io as tio

        out["nmnist"]["tonic"] = lambda p: tio.read_mnist_file(p, dtype=tio.events_struct)
        out["aedat2"]["tonic"] = _tonic_aedat2
        out["aedat4"]["tonic"] = tio.read_aedat4
    except ImportError:
        pass
    try:
        import dv  # noqa: F401

        out["aedat2"]["tonic POKERDVS path (dv)"] = _tonic_pokerdvs
    except ImportError:
        pass
    try:
        from expelliarmus import Wizard

        for f in ["evt2", "evt3", "dat"]:
            w = Wizard(encoding=f)
            out[f]["expelliarmus"] = w.read
    except ImportError:
        pass
    try:
        import aedat

        def aedat_read(p: str) -> np.ndarray:
            return np.concatenate([pk["events"] for pk in aedat.Decoder(p) if "events" in pk])

        out["aedat4"]["aedat"] = aedat_read
    except ImportError:
        pass
    return out


def files() -> dict[str, list[str]]:
    ev = DATA / "events"
    return {
        "nmnist": sorted(glob.glob(str(DATA / "nmnist" / "**" / "*.bin"), recursive=True)),
        "aedat2": [p for p in sorted(glob.glob(str(ev / "aedat2" / "*.aedat"))) if "header" not in p],
        "aedat4": sorted(glob.glob(str(ev / "aedat4" / "*.aedat4"))),
        "evt2": [str(ev / "prophesee" / "evt2_sample.raw")],
        "evt3": [str(ev / "prophesee" / "evt3_sample.raw")],
        "dat": [str(ev / "prophesee" / "sample_ncars.dat")],
    }


#: Untimed preparation before each pass of a candidate (by row name).
BEFORE: dict[str, Callable[[], None]] = {"spikeflow read_many, fresh buffer": sd.clear_buffer_cache}


def interleaved(cands: dict[str, Callable[[], int]], repeat: int) -> dict[str, tuple[float, int]]:
    """Best time and event count per candidate; the passes are interleaved round-robin."""
    best = {k: (float("inf"), 0) for k in cands}
    names = list(cands)
    for r in range(repeat):
        for k in names[r % len(names):] + names[: r % len(names)]:
            if k in BEFORE:
                BEFORE[k]()
            t0 = time.perf_counter()
            n = cands[k]()
            best[k] = (min(best[k][0], time.perf_counter() - t0), n)
    return best


def run(repeat: int, threads: int | None = None) -> list[dict]:
    rows = []
    fs, libs = files(), peers()
    for fmt, paths in fs.items():
        paths = [p for p in paths if os.path.exists(p)]
        if not paths:
            print(f"{fmt}: no files under {DATA}, skipped")
            continue
        cands: dict[str, Callable[[], int]] = {}
        for name, reader in libs[fmt].items():
            try:
                reader(paths[0])
            except (OSError, ValueError, RuntimeError, TypeError) as e:
                # a peer that cannot read the format is reported, not fatal
                print(f"{fmt}: {name} failed: {type(e).__name__}: {e}")
                continue
            cands[name] = partial(_each, reader, paths)
        cands["spikeflow read_many"] = partial(_read_many, paths, fmt, threads)
        # the first call's cost: no cached buffer to reuse, every page faulted in fresh
        cands["spikeflow read_many, fresh buffer"] = partial(_read_many, paths, fmt, threads)
        if "tonic" in cands:
            # the same "all files kept in a list" pattern as read_many
            cands["tonic, list of all"] = partial(_all_kept, libs[fmt]["tonic"], paths)
        if fmt == "nmnist":
            # decoding only: bytes already in memory (Tonic's stream mode)
            blobs = [Path(p).read_bytes() for p in paths]
            cands["spikeflow from memory"] = partial(_sf_memory, blobs)
            if "tonic" in cands:
                cands["tonic from memory"] = partial(_tonic_memory, blobs)
        results = interleaved(cands, repeat)
        peer_names = [k for k in libs[fmt] if k != "spikeflow" and k in results]
        peer = "tonic" if "tonic" in peer_names else min(peer_names, key=lambda k: results[k][0], default=None)
        for name, (secs, n) in results.items():
            vs = []
            if name.startswith("spikeflow") and peer is not None:
                ref = "tonic from memory" if "memory" in name else peer
                vs.append(f"{results[ref][0] / secs:.2f}x {ref}")
                if name.startswith("spikeflow read_many") and "tonic, list of all" in results:
                    vs.append(f"{results['tonic, list of all'][0] / secs:.2f}x tonic kept")
                dv_row = "tonic POKERDVS path (dv)"
                if dv_row in results and "memory" not in name:
                    vs.append(f"{results[dv_row][0] / secs:.0f}x {dv_row}")
            rows.append({"format": fmt, "library": name, "files": len(paths), "events": n,
                         "seconds": secs, "mev_s": n / secs / 1e6, "vs": "; ".join(vs) or "—"})
    return rows


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"


def versions() -> str:
    out = []
    for mod in ["tonic", "expelliarmus", "aedat", "dv"]:
        try:
            from importlib.metadata import version

            out.append(f"{mod} {version(mod)}")
        except ImportError:
            out.append(f"{mod} not installed")
    return ", ".join(out)


def saccade_stats(n: int) -> None:
    """Compare saccade-converted MNIST digits with the real N-MNIST recordings of the same
    digits (``nmnist/manifest.csv`` gives each sample's MNIST index)."""
    import csv

    rows = list(csv.DictReader((DATA / "nmnist" / "manifest.csv").read_text().splitlines()))
    rows = [r for r in rows if r["split"] == "Train"][:n]
    images, _ = sd.load_mnist(DATA / "mnist", train=True)
    stats: dict[str, list] = {"sim": [], "real": []}
    corr = []
    t0 = time.perf_counter()
    for r in rows:
        sim = sd.saccades(images[int(r["mnist_index_1based"]) - 1])
        real = sd.read(DATA / r["path"])
        for key, ev in (("sim", sim), ("real", real)):
            thirds = np.histogram(ev["t"], [0, 105_000, 210_000, 10**9])[0] / max(len(ev), 1)
            stats[key].append([len(ev), ev["p"].mean(), ev["x"].mean(), ev["y"].mean(), ev["x"].std(),
                               ev["y"].std(), len(np.unique(ev["y"].astype(int) * 34 + ev["x"])), *thirds])
        hs = sd.to_frames(sim, (34, 34, 1), n_time_bins=1).ravel()
        hr = sd.to_frames(real, (34, 34, 1), n_time_bins=1).ravel()
        corr.append(np.corrcoef(hs, hr)[0, 1])
    secs = time.perf_counter() - t0
    names = ["events/sample", "ON fraction", "mean x", "mean y", "std x", "std y", "active pixels",
             "share saccade 1", "share saccade 2", "share saccade 3"]
    print(f"saccades vs real N-MNIST, {len(rows)} train digits ({secs / len(rows) * 1e3:.1f} ms/digit incl. reading)")
    print("| statistic | saccade-converted MNIST (median [IQR]) | real N-MNIST (median [IQR]) |")
    print("| --- | ---: | ---: |")
    sim, real = np.array(stats["sim"]), np.array(stats["real"])
    for k, name in enumerate(names):
        fmt = "{:.0f}" if k in (0, 6) else "{:.2f}"
        cell = [f"{fmt.format(np.median(a[:, k]))} [{fmt.format(np.percentile(a[:, k], 25))}-"
                f"{fmt.format(np.percentile(a[:, k], 75))}]" for a in (sim, real)]
        print(f"| {name} | {cell[0]} | {cell[1]} |")
    print(f"| spatial histogram correlation, same digit | {np.mean(corr):.2f} (mean) | |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--threads", type=int, default=None, help="read_many threads (default: all cores)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--saccades", type=int, default=0, metavar="N",
                    help="also compare N saccade-converted MNIST digits with real N-MNIST")
    args = ap.parse_args(argv)
    if args.saccades:
        saccade_stats(args.saccades)
    rows = run(args.repeat, args.threads)
    print(f"# {time.strftime('%Y-%m-%d')} — {machine()}; {versions()}")
    if args.markdown:
        print("| format | library | files | events | ms | Mev/s | spikeflow faster by |")
        print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        if args.markdown:
            print(f"| {r['format']} | {r['library']} | {r['files']} | {r['events']:,} | "
                  f"{r['seconds'] * 1e3:.2f} | {r['mev_s']:.1f} | {r['vs']} |")
        else:
            print(f"{r['format']:7s} {r['library']:22s} {r['files']:5d} files {r['events']:>10,} ev "
                  f"{r['seconds'] * 1e3:9.2f} ms {r['mev_s']:8.1f} Mev/s  {r['vs']}")


if __name__ == "__main__":
    main()
