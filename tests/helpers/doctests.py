"""Docstring examples and module-purity checks, shared by the unit suites of each package."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

#: Modules a sans-I/O module must not import.
IO_MODULES = frozenset({"asyncio", "socket", "ssl", "threading", "selectors", "concurrent", "multiprocessing"})


def _module(module: str | ModuleType) -> ModuleType:
    return importlib.import_module(module) if isinstance(module, str) else module


def run_doctests(module: str | ModuleType, *, require_examples: bool = True) -> doctest.TestResults:
    """Run ``module``'s docstring examples (ELLIPSIS on); assert none failed and, if
    ``require_examples``, that there was at least one."""
    mod = _module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{mod.__name__}: {result.failed} of {result.attempted} examples failed"
    if require_examples:
        assert result.attempted > 0, f"{mod.__name__} has no docstring example"
    return result


def missing_examples(modules: Iterable[str | ModuleType], *, skip_classes: bool = False) -> list[str]:
    """The public callables (``__all__``, defined in the module itself) whose docstring has no ``>>>``
    example. Protocols and enums never need one; ``skip_classes`` leaves out every class."""
    missing = []
    for module in modules:
        mod = _module(module)
        for attr in getattr(mod, "__all__", []):
            obj = getattr(mod, attr)
            if getattr(obj, "__module__", None) != mod.__name__ or not callable(obj):
                continue
            if inspect.isclass(obj) and (
                skip_classes or getattr(obj, "_is_protocol", False) or hasattr(obj, "__members__")
            ):
                continue
            if ">>>" not in (obj.__doc__ or ""):
                missing.append(f"{mod.__name__}.{attr}")
    return missing


def imported_modules(path: Path) -> set[str]:
    """The top-level names of the modules the source file at ``path`` imports (absolute imports)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    return imported


def io_imports(module: str | ModuleType | Path) -> set[str]:
    """The I/O modules (:data:`IO_MODULES`) a module imports: empty for a pure module."""
    path = module if isinstance(module, Path) else Path(_module(module).__file__ or "")
    return imported_modules(path) & IO_MODULES
