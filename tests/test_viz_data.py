"""Plots of spike and event data render to files without a display."""
from __future__ import annotations

import numpy as np
import pytest
import spikeflow.data as sd
import spikeflow.viz as viz
from test_data_common import require

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("rel", [
    "nmnist/unlabeled/sample_nmnist.bin",
    "events/aedat2/alex_walking_again.aedat",
    "events/aedat4/davis.aedat4",
    "events/prophesee/evt3_sample.raw",
    "events/prophesee/sample_ncars.dat",
    "events/aedat2/sample_aedat_header.aedat",
    "spikes/NTIDIGITS_1.bs1",
])
def test_render_file_any_format(tmp_path, rel):
    out = viz.render_file(require(rel), tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    assert out == str(tmp_path / "x.png") and data.startswith(PNG) and len(data) > 2000


def test_render_file_errors_pass_through(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"123")
    with pytest.raises(sd.EventFormatError):
        viz.render_file(bad, tmp_path / "o.png")
    with pytest.raises(FileNotFoundError):
        viz.render_file(tmp_path / "none.aedat", tmp_path / "o.png")


def test_raster_grid_rate_and_gif(tmp_path):
    ev = sd.read(require("nmnist/unlabeled/sample_nmnist.bin"))
    ax = viz.raster(np.array([1.0, 2.0, 3.0]), np.array([0, 5, 2]), title="t")
    assert ax.get_xlabel() == "time (ms)" and len(ax.collections) == 1
    with pytest.raises(ValueError):
        viz.raster([1.0], [1, 2])
    ax = viz.raster_events(ev, (34, 34, 2))
    ax.figure.savefig(tmp_path / "r.png")
    fig = viz.plot_event_grid(ev, (34, 34), n_frames=5, ncols=5)
    assert len(fig.axes) == 5
    fig.savefig(tmp_path / "g.png")
    viz.plot_event_rate(ev).figure.savefig(tmp_path / "rate.png")
    out = viz.animate(ev, (34, 34), tmp_path / "a.gif", n_frames=6, fps=5)
    assert (tmp_path / "a.gif").read_bytes()[:6] in (b"GIF89a", b"GIF87a") and out.endswith("a.gif")
    viz.animate(ev[:0], (34, 34), tmp_path / "empty.gif")
    img = viz.frames.polarity_image(np.array([[0, 5]]), np.array([[3, 0]]))
    assert img.shape == (1, 2, 3) and np.allclose(img[0, 0, 0], viz.OFF_COLOR[0], atol=0.2)
