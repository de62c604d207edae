"""The type stubs of the extension module list exactly what it exports."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import spikeflow
import spikeflow._core as core


def _stub_names() -> set[str]:
    tree = ast.parse((Path(spikeflow.__file__).parent / "_core.pyi").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_every_export_has_a_stub_and_every_stub_an_export():
    exported = {k for k in dir(core) if not k.startswith("__")}
    stubs = {k for k in _stub_names() if not k.startswith("_")}
    # type aliases of the stub file (capitalised, e.g. F32) are not exports
    aliases = {k for k in stubs if k[0].isupper() and not hasattr(core, k)}
    assert exported - stubs == set(), "exported but missing from _core.pyi"
    assert stubs - aliases - exported == set(), "in _core.pyi but not exported"


def test_stub_functions_take_the_exported_parameters():
    tree = ast.parse((Path(spikeflow.__file__).parent / "_core.pyi").read_text())
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        sig = inspect.signature(getattr(core, node.name))
        stub_params = [a.arg for a in node.args.args + node.args.kwonlyargs]
        assert stub_params == list(sig.parameters), node.name
