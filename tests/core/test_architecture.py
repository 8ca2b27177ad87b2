"""The architecture rules of docs/DESIGN.md, checked on the plugin's source with ``ast``.

Nothing is imported: every module of ``landcover_cnn_plugin`` is parsed, and its imports
(at module level and inside functions alike; ``if TYPE_CHECKING:`` blocks excepted, they
never run) are resolved to absolute module names. Each failure lists every offending module
with the line of the import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lcnn_testing import ROOT

PACKAGE = "landcover_cnn_plugin"
MAX_LINES = 400
#: Libraries that must never load inside QGIS (TensorFlow aborts it; the rest are the worker's).
WORKER_ONLY = ("tensorflow", "keras", "pandas", "sklearn", "onnxruntime", "dask")
#: What QGIS itself provides to Python: never imported by core/.
QGIS_LIBRARIES = ("qgis", "processing", "PyQt5")
#: Where raster and vector files may be opened with GDAL/OGR.
OSGEO_ALLOWED = (f"{PACKAGE}.core.io", f"{PACKAGE}.processing")


@dataclass(frozen=True)
class Import:
    importer: str  # dotted name of the module holding the import statement
    target: str  # dotted name of what is imported (the submodule where ``from X import sub`` names one)
    line: int
    module_level: bool  # runs when the importer is imported (not inside a function)

    @property
    def library(self) -> str:
        return self.target.split(".")[0]

    def __str__(self) -> str:
        where = "module level" if self.module_level else "in a function"
        return f"{self.importer}:{self.line} imports {self.target} ({where})"


@cache
def source_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the plugin package."""
    files = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def _is_type_checking_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST, in_function: bool = False):
    """(statement, inside a function) for every import that can run."""
    for child in ast.iter_child_nodes(node):
        if _is_type_checking_block(child):
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, in_function
        nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from _import_nodes(child, nested)


def _absolute(importer: str, statement: ast.ImportFrom) -> str:
    if not statement.level:
        return statement.module or ""
    is_package = source_files()[importer].name == "__init__.py"
    parts = importer.split(".") if is_package else importer.split(".")[:-1]
    base = parts[:len(parts) - (statement.level - 1)]
    return ".".join(base + ([statement.module] if statement.module else []))


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    tree = ast.parse(source_files()[module].read_text(encoding="utf-8"))
    found = []
    for statement, in_function in _import_nodes(tree):
        if isinstance(statement, ast.Import):
            targets = [alias.name for alias in statement.names]
        else:
            origin = _absolute(module, statement)
            # "from package import submodule" imports the submodule; "from module import name" the module
            targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in source_files() else origin
                       for alias in statement.names]
        found += [Import(module, target, statement.lineno, not in_function)
                  for target in dict.fromkeys(targets)]
    return tuple(found)


def all_imports() -> list[Import]:
    return [found for module in source_files() for found in imports_of(module)]


def internal_edges() -> dict[str, list[Import]]:
    """Module -> its imports of other plugin modules (function-level imports included)."""
    return {module: [found for found in imports_of(module)
                     if found.target in source_files() and found.target != module]
            for module in source_files()}


def import_cycles() -> list[list[str]]:
    """The strongly connected components of the import graph with more than one module (Tarjan)."""
    edges = internal_edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for found in edges[module]:
            if found.target not in index:
                visit(found.target)
                low[module] = min(low[module], low[found.target])
            elif found.target in on_stack:
                low[module] = min(low[module], index[found.target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return cycles


def qgis_side_modules() -> set[str]:
    """Every plugin module the QGIS process can import: from the package, plugin.py and
    processing/, following imports at any level (a function QGIS calls may import more)."""
    roots = [name for name in source_files()
             if name in (PACKAGE, f"{PACKAGE}.plugin") or name.startswith(f"{PACKAGE}.processing")]
    seen, todo = set(roots), list(roots)
    edges = internal_edges()
    while todo:
        for found in edges[todo.pop()]:
            if found.target not in seen:
                seen.add(found.target)
                todo.append(found.target)
    return seen


def _listing(problems: list) -> str:
    return "\n".join(f"  {problem}" for problem in problems)


def test_the_source_is_found():
    """The checks below read real files: the package and its sub-packages are all there."""
    modules = source_files()
    assert {PACKAGE, f"{PACKAGE}.plugin", f"{PACKAGE}.worker", f"{PACKAGE}.processing.provider",
            f"{PACKAGE}.core.errors"} <= modules.keys()
    assert len(all_imports()) > 100


def test_no_module_is_longer_than_400_lines():
    long = sorted((len(path.read_text(encoding="utf-8").splitlines()), name)
                  for name, path in source_files().items())
    over = [f"{name}: {lines} lines" for lines, name in long if lines > MAX_LINES]
    assert not over, f"modules over {MAX_LINES} lines (split them by concept):\n{_listing(over)}"


def test_no_import_cycle():
    cycles = import_cycles()
    edges = internal_edges()
    details = []
    for members in cycles:
        details.append(" <-> ".join(members))
        details += [f"    {found}" for module in members for found in edges[module]
                    if found.target in members]
    assert not cycles, ("modules that import each other (directly or around a circle; "
                        f"function-level imports count):\n{_listing(details)}")


def test_osgeo_only_in_the_io_package_and_processing():
    outside = [found for found in all_imports() if found.library == "osgeo"
               and not any(found.importer == allowed or found.importer.startswith(allowed + ".")
                           for allowed in OSGEO_ALLOWED)]
    assert not outside, ("GDAL/OGR used outside core/io/ and processing/ (go through core.io):\n"
                         + _listing(outside))


def test_core_never_imports_qgis():
    found = [found for found in all_imports() if found.importer.startswith(f"{PACKAGE}.core")
             and found.library in QGIS_LIBRARIES]
    assert not found, f"core/ must run without QGIS:\n{_listing(found)}"


def test_qgis_process_loads_no_worker_library():
    """TensorFlow and the worker's libraries stay out of QGIS: no module QGIS can import loads one
    at module level, and processing/ and plugin.py never import one at all."""
    qgis_side = qgis_side_modules()
    qgis_only = {name for name in qgis_side if name.startswith(f"{PACKAGE}.processing")} | {
        PACKAGE, f"{PACKAGE}.plugin"}
    assert f"{PACKAGE}.core.model_file" in qgis_side  # classifyimage reads model metadata in QGIS
    heavy = [found for module in sorted(qgis_side) for found in imports_of(module)
             if found.library in WORKER_ONLY and (found.module_level or module in qgis_only)]
    assert not heavy, ("worker-only libraries reachable from the QGIS process (import them inside "
                       f"the functions the worker runs):\n{_listing(heavy)}")
