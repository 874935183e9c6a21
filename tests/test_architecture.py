"""The house rules, checked: imports run one way between the rooms of ``sim``, no module
imports another's private names, files and functions stay small, and the command line
starts without the heavy libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "sim"

ROOMS = ["text", "vocab", "distributions", "streams", "native", "scenario", "model", "metrics",
         "stats", "sweep", "io", "execute", "uncertainty", "analysis", "app", "cli"]
"""The rooms of ``sim`` in import order: a module may import from its own room or from
rooms before it, never after."""
RANK = {room: i for i, room in enumerate(ROOMS)}
RANK.update({"stats": RANK["metrics"]})  # metrics and stats are one floor

FILE_LINES, FUNCTION_LINES = 400, 60
SLACK = 1.15
"""'About' 400 lines a file and 60 a function: up to 15% over is tolerated."""


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``sim``."""
    out = {}
    for path in sorted(SIM.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) of each runtime import of a ``sim`` module (those
    under ``if TYPE_CHECKING:`` are left out: they are for annotations only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] == "sim":
                found.append((module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names
                      if a.name.split(".")[0] == "sim"]
    return found


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_imports_run_one_way_between_rooms():
    wrong = []
    for name, path in _modules().items():
        room = _room(name)
        if room not in RANK:
            continue
        for module, _, line in _imports(name, path):
            target = _room(module)
            if target in RANK and RANK[target] > RANK[room]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {room} imports {module}")
    assert not wrong, "imports against the direction:\n" + "\n".join(wrong)


def test_every_module_belongs_to_a_room():
    rooms = {_room(name) for name in _modules()} - {None, "__main__"}
    assert rooms <= set(RANK), f"modules outside the rooms: {rooms - set(RANK)}"


def test_no_module_imports_another_modules_private_names():
    wrong = []
    for name, path in _modules().items():
        for module, names, line in _imports(name, path):
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private and module != name:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module}.{', '.join(private)}")
    assert not wrong, "private names imported across modules:\n" + "\n".join(wrong)


def test_files_and_functions_stay_small():
    wrong = []
    for path in sorted(SIM.rglob("*.py")):
        rel = str(path.relative_to(SIM))
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > FILE_LINES * SLACK:
            wrong.append(f"sim/{rel}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES * SLACK:
                    wrong.append(f"sim/{rel}:{node.lineno}: {node.name} is {length} lines")
    assert not wrong, "too big:\n" + "\n".join(wrong)


@pytest.mark.parametrize("args", [["--help"], ["validate", "scenarios/example.yaml"]])
def test_the_command_line_starts_without_heavy_libraries(args):
    probe = ("import sys, runpy; sys.argv = ['treatsim', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('sim', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules}"
             " & {'pandas', 'scipy', 'pyarrow', 'matplotlib', 'SALib', 'distributed',"
             " 'streamlit'})\n"
             "print('HEAVY', heavy, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert "HEAVY []" in out.stderr, out.stderr[-2000:]


def test_every_module_and_public_function_has_a_docstring():
    missing = []
    for path in sorted(SIM.rglob("*.py")):
        rel = str(path.relative_to(SIM))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not ast.get_docstring(tree):
            missing.append(f"sim/{rel}: module")
        todo = [(node, "") for node in tree.body]
        while todo:
            node, owner = todo.pop()
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if node.name.startswith("_"):
                continue
            if not ast.get_docstring(node):
                missing.append(f"sim/{rel}:{node.lineno}: {owner}{node.name}")
            if isinstance(node, ast.ClassDef):
                todo += [(child, f"{node.name}.") for child in node.body]
    assert not missing, "no docstring:\n" + "\n".join(missing)
