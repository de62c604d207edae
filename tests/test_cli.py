"""The console script: commands, help, the Brunel showcase's figures."""
import json

from spikeflow.cli import main


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "brunel" in out and "show" in out
    assert main(["nonsense"]) == 2


def test_brunel_command_prints_rates_and_writes_a_raster(tmp_path, capsys):
    assert main(["brunel", "--duration", "200", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert 20.0 < figures["brunel_rate_exc_hz"] < 80.0
    assert figures["brunel_synapses"] == 2_505_000
    assert figures["brunel_bytes_per_synapse"] <= 8.0
    assert (tmp_path / "brunel_raster.png").stat().st_size > 10_000
