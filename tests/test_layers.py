"""The application's modules stay small, free of import cycles, and depend downwards only.

The import graph is read from the source with ``ast`` (nothing is imported),
counting imports at module level and inside functions alike: a lazy import
that closes a cycle only moves the failure from import time to the first call.

Layers, lowest first: ``core`` (nothing from ``accounts`` or ``boards``),
``accounts`` (nothing from ``boards``), then in ``boards``: models, selectors
(``boards.catalog`` is the catalog's reads, so it is one of them), services,
and on top the HTTP side (views, API, admin, URLs, template tags, management
commands). ``formats`` and ``imaging`` sit beside selectors: they may read the
models but not call services or the HTTP side. Importing a package means
importing its ``__init__``, which re-exports its layer: ``from boards import
services`` is an import of the services layer.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "boards", "core", "config")
SKIPPED_DIRS = {"migrations", "tests", "__pycache__"}
MAX_LINES = 500

# The first prefix that matches names a module's layer (longest prefixes first where they nest).
LAYERS = {
    "core": "core",
    "accounts": "accounts",
    "config": "config",
    "boards.models": "models",
    "boards.selectors": "selectors",
    "boards.catalog": "selectors",
    "boards.formats": "formats",
    "boards.imaging": "imaging",
    "boards.services": "services",
    "boards.views": "web",
    "boards.api": "web",
    "boards.api_urls": "web",
    "boards.urls": "web",
    "boards.admin": "web",
    "boards.middleware": "web",
    "boards.context_processors": "web",
    "boards.templatetags": "web",
    "boards.management": "web",
    "boards.upload_requests": "web",
    "boards": "boards",
}
BOARDS_LAYERS = {"boards", "models", "selectors", "formats", "imaging", "services", "web"}
FORBIDDEN = {
    "core": {"accounts", *BOARDS_LAYERS},
    "accounts": BOARDS_LAYERS,
    "models": {"selectors", "services", "web"},
    "selectors": {"services", "web"},
    "formats": {"services", "web"},
    "imaging": {"services", "web"},
    "services": {"web"},
}
"""Which layers a layer must not import."""


@dataclass(frozen=True)
class Import:
    """One edge of the graph: ``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: str
    line: int
    lazy: bool  # inside a function or method

    def __str__(self) -> str:
        where = "in a function" if self.lazy else "at module level"
        return f"{self.path}:{self.line} {self.source} -> {self.target} ({where})"


def layer_of(module: str) -> str | None:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    return None


def application_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the apps by dotted name, migrations and tests left out."""
    found = {}
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if SKIPPED_DIRS.intersection(parts):
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _lazy_imports(tree: ast.Module) -> set[int]:
    """The ids of the import nodes inside a function: they run at call time, not import time."""
    lazy = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            lazy.update(id(inner) for inner in ast.walk(node) if isinstance(inner, ast.Import | ast.ImportFrom))
    return lazy


def _loaded(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]) -> list[str]:
    """The application modules an import statement names, relative imports resolved.

    ``from package import name`` names the submodule when ``name`` is one, and
    otherwise the package itself, whose ``__init__`` must have bound ``name``.
    """
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = []
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


def _targets(name: str, importer: str, modules: set[str]) -> set[str]:
    """The application modules that importing ``name`` runs: ``name`` and the packages above it.

    The importer's own packages are left out unless named: they are always
    initialised before it runs. Named, they are a cycle (a submodule taking a
    name from its own package's ``__init__``, which imports that submodule).
    """
    own = {importer, *_ancestors(importer)}
    return {name, *(m for m in _ancestors(name) if m in modules and m not in own)}


def import_graph(modules: dict[str, Path]) -> list[Import]:
    names = set(modules)
    edges = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        lazy = _lazy_imports(tree)
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _loaded(node, module, is_package, names):
                for target in _targets(name, module, names):
                    rel = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
                    edges.add(Import(module, target, rel, node.lineno, id(node) in lazy))
    return sorted(edges, key=lambda e: (e.path, e.line, e.target))


def upward_imports(edges: list[Import]) -> list[Import]:
    """The imports that point up (or sideways into a forbidden layer)."""
    wrong = [e for e in edges if layer_of(e.target) in FORBIDDEN.get(layer_of(e.source), ())]
    # One line per import: ``from boards import selectors`` is reported as boards.selectors, not also as boards.
    deeper = {(e.path, e.line, parent) for e in wrong for parent in _ancestors(e.target)}
    return [e for e in wrong if (e.path, e.line, e.target) not in deeper]


def import_cycles(edges: list[Import]) -> list[list[Import]]:
    """Each group of modules that import each other (Tarjan's strongly connected components), as its edges."""
    out: dict[str, list[str]] = {}
    for edge in edges:
        out.setdefault(edge.source, []).append(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        # Iterative, so a deep graph cannot hit the recursion limit.
        work = [(node, iter(out.get(node, ())))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(out.get(child, ()))))
                elif child in on_stack:
                    low[current] = min(low[current], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == current:
                        break
                if len(group) > 1 or current in out.get(current, ()):
                    groups.append(group)

    for node in sorted(out):
        if node not in index:
            visit(node)
    return [[e for e in edges if e.source in group and e.target in group] for group in groups]


def oversized(modules: dict[str, Path]) -> list[str]:
    """The modules longer than ``MAX_LINES``: two concerns in one file."""
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules.items()}
    return sorted(f"{name}: {n} lines" for name, n in sizes.items() if n > MAX_LINES)


def _report(title: str, lines: list[str]) -> str:
    return title + "\n" + "\n".join(f"  {line}" for line in lines)


@pytest.fixture(scope="module")
def graph() -> list[Import]:
    return import_graph(application_modules())


def test_it_reads_the_applications_modules(graph):
    modules = application_modules()
    assert {"core.params", "accounts.models", "boards.models", "boards.services", "config.settings"} <= set(modules)
    assert not any(".migrations" in name for name in modules)
    assert any(e.source == "boards.services" and layer_of(e.target) == "services" for e in graph)


def test_it_finds_no_import_cycle(graph):
    cycles = import_cycles(graph)
    assert not cycles, "\n".join(
        _report(f"modules importing each other: {sorted({e.source for e in cycle})}", [str(e) for e in cycle])
        for cycle in cycles
    )


def test_it_finds_no_upward_import(graph):
    wrong = upward_imports(graph)
    assert not wrong, _report(
        "imports that point up a layer:", [f"{e} [{layer_of(e.source)} -> {layer_of(e.target)}]" for e in wrong]
    )


def test_it_keeps_every_module_under_the_size_limit():
    big = oversized(application_modules())
    assert not big, _report(f"modules over {MAX_LINES} lines (split them by domain):", big)


# The checker itself, on a made-up project: it must see what it is there to see.


def _fake_project(tmp_path: Path, files: dict[str, str]) -> list[Import]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return import_graph(application_modules(tmp_path))


def _edge(source: str, target: str, *, lazy: bool = False) -> Import:
    return Import(source, target, f"{source.replace('.', '/')}.py", 1, lazy)


def test_it_catches_a_planted_upward_import():
    edges = [
        _edge("boards.views.board", "boards.services"),
        _edge("boards.services.workflow", "boards.selectors"),
        _edge("boards.selectors.board", "boards.models"),
        _edge("boards.models.batches", "boards.selectors.work", lazy=True),
        _edge("boards.formats.export", "boards.services"),
        _edge("core.params", "accounts.roles"),
        _edge("accounts.views", "boards.api.auth"),
        _edge("boards.imaging", "boards.models"),
    ]
    assert [(e.source, e.target) for e in upward_imports(edges)] == [
        ("boards.models.batches", "boards.selectors.work"),
        ("boards.formats.export", "boards.services"),
        ("core.params", "accounts.roles"),
        ("accounts.views", "boards.api.auth"),
    ]


def test_it_catches_a_cycle_closed_by_a_lazy_import():
    edges = [
        _edge("boards.services", "boards.services.workflow"),
        _edge("boards.services.workflow", "boards.formats"),
        _edge("boards.formats", "boards.formats.export"),
        _edge("boards.formats.export", "boards.services", lazy=True),
        _edge("boards.views", "boards.services"),
    ]
    [cycle] = import_cycles(edges)
    assert {e.source for e in cycle} == {
        "boards.services",
        "boards.services.workflow",
        "boards.formats",
        "boards.formats.export",
    }
    assert import_cycles([e for e in edges if not e.lazy]) == []


def test_it_reads_imports_from_source(tmp_path):
    edges = _fake_project(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/params.py": "def f():\n    from boards.services import x\n",
            "boards/__init__.py": "",
            "boards/models/__init__.py": "from boards.models.batches import Batch\n",
            "boards/models/batches.py": "from . import choices\nfrom .choices import A\n",
            "boards/models/choices.py": "A = 1\n",
            "boards/services/__init__.py": "from boards.services.work import x\n",
            "boards/services/work.py": "import boards.models\nfrom boards import views\n",
            "boards/views/__init__.py": "from boards import services\n",
            "boards/migrations/0001_initial.py": "from boards import views\n",
        },
    )
    pairs = {(e.source, e.target, e.lazy) for e in edges}
    # Relative imports resolve; an import of a package's own submodule does not count its package.
    assert ("boards.models.batches", "boards.models.choices", False) in pairs
    assert not any(source == "boards.models.batches" and target == "boards.models" for source, target, _ in pairs)
    assert ("core.params", "boards.services", True) in pairs
    assert not any(source.endswith("0001_initial") for source, _, _ in pairs)
    assert {(e.source, e.target) for e in upward_imports(edges)} == {
        ("core.params", "boards.services"),
        ("boards.services.work", "boards.views"),
    }
    [cycle] = import_cycles(edges)
    assert {e.source for e in cycle} == {"boards.services", "boards.services.work", "boards.views"}


def test_it_catches_a_module_over_the_size_limit(tmp_path):
    for name, lines in {"core/params.py": MAX_LINES, "boards/models.py": MAX_LINES + 1}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n" * lines, encoding="utf-8")
    (tmp_path / "boards/migrations").mkdir()
    (tmp_path / "boards/migrations/0001_initial.py").write_text("x = 1\n" * (MAX_LINES * 2), encoding="utf-8")
    assert oversized(application_modules(tmp_path)) == [f"boards.models: {MAX_LINES + 1} lines"]
