"""The library's import graph: imports only point down the layers, no import cycles, no private names
borrowed across modules.

Layers, from the ground up (docs/design.md §2): ``errors``, ``io``, ``parsing``, ``hub``, ``entry``,
``benchmark`` → ``optics`` → ``models``, ``metrics``, ``perception`` → ``pipelines`` → ``data``,
``training`` → the front ends (``cli``, ``app``, ``demo``, ``data.cli``). Every ``import`` in a module
counts, also the ones inside functions (a deferred import is still a dependency). Within a layer,
modules may import each other as long as no cycle forms.
"""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "genrefocus"

LAYERS = {
    "errors": 0, "io": 0, "parsing": 0, "hub": 0, "entry": 0, "benchmark": 0,
    "optics": 1,
    "models": 2, "metrics": 2, "perception": 2,
    "pipelines": 3,
    "data": 4, "training": 4,
    "cli": 5, "app": 5, "app_ui": 5, "demo": 5, "data.cli": 5,
}


def _modules() -> dict:
    """``{dotted name below genrefocus: path}`` of every module (packages as their ``__init__``)."""
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _layer(name: str) -> int:
    if name in LAYERS:
        return LAYERS[name]
    head = name.split(".")[0]
    if name == "":  # genrefocus/__init__.py re-exports the public API: the top
        return 6
    assert head in LAYERS, f"module {name!r} has no layer: add it to LAYERS (and to docs/design.md)"
    return LAYERS[head]


def _imports(name: str, path: Path, modules: dict) -> list:
    """``[(imported module, [names], line)]`` of every genrefocus import in the file."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if name else []
    package = here if is_pkg else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else list(package)
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "genrefocus":
                target = node.module[len("genrefocus"):].lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            # "from .pkg import module" names a module
            for n in names:
                sub = f"{target}.{n}" if target else n
                if sub in modules:
                    found.append((sub, [], node.lineno))
            found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "genrefocus":
                    found.append((a.name[len("genrefocus"):].lstrip("."), [], node.lineno))
    return [(t, n, line) for t, n, line in found if t in modules]


def _graph():
    modules = _modules()
    return modules, {name: _imports(name, path, modules) for name, path in modules.items()}


def test_imports_only_point_down():
    modules, graph = _graph()
    up = []
    for name, imports in graph.items():
        for target, _, line in imports:
            if name and target and _layer(target) > _layer(name):
                up.append(f"genrefocus/{modules[name].relative_to(PKG)}:{line} ({name}, layer {_layer(name)}) "
                          f"imports {target} (layer {_layer(target)})")
    assert not up, "imports pointing up the layers:\n" + "\n".join(up)


def test_no_import_cycles():
    modules, graph = _graph()
    edges = {n: sorted({t for t, _, _ in imps if t != n and not n.startswith(t + ".") and t != ""})
             for n, imps in graph.items()}
    # a package's __init__ importing its own submodules is not a cycle; a submodule importing its
    # package's __init__ (which re-exports) is how Python resolves "from . import x": skip parents
    cycles, state = [], {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for t in edges.get(n, []):
            if t.startswith(n + "."):
                continue
            if state.get(t) == 1:
                cycles.append(" → ".join(stack[stack.index(t):] + [t]))
            elif state.get(t) is None:
                visit(t, stack)
        stack.pop()
        state[n] = 2

    for n in edges:
        if state.get(n) is None:
            visit(n, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_imports_another_modules_private_name():
    modules, graph = _graph()
    borrowed = []
    for name, imports in graph.items():
        for target, names, line in imports:
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target != name:
                    borrowed.append(f"genrefocus/{modules[name].relative_to(PKG)}:{line} imports {target}.{n}")
    assert not borrowed, "private names imported across modules:\n" + "\n".join(borrowed)


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """Control: a module of the optics layer importing a pipeline is reported."""
    fake = tmp_path / "genrefocus"
    (fake / "optics").mkdir(parents=True)
    (fake / "pipelines").mkdir()
    for f in ("__init__.py", "optics/__init__.py", "pipelines/__init__.py", "pipelines/physical.py"):
        (fake / f).write_text("")
    (fake / "optics" / "bad.py").write_text("def f():\n    from ..pipelines.physical import X\n")
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    modules, graph = _graph()
    assert ("pipelines.physical", ["X"], 2) in graph["optics.bad"]
    assert _layer("pipelines.physical") > _layer("optics.bad")
