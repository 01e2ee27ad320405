import subprocess
import sys

import sar_helpers as sar


def test_every_exported_name_resolves():
    for name in sar.__all__:
        assert callable(getattr(sar, name)), name


def test_the_command_line_does_not_import_plotting_libraries():
    code = "import sys, sar_helpers.cli; print(sorted(m for m in ('matplotlib', 'folium', 'distributed') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _package_imports() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (at the top or inside functions)."""
    import ast
    from pathlib import Path

    root = Path(sar.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                found = {target, *(f"{target}.{alias.name}" for alias in node.names)} & set(modules)
                graph[name] |= found - {name}
    graph["sar_helpers"] = set()  # the package root only re-exports, on first use
    return graph


def test_imports_run_one_way():
    """No module imports, directly or through others, a module that imports it."""
    graph = _package_imports()

    def reachable(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        return seen

    cycles = sorted(name for name in graph if name in reachable(name))
    assert cycles == [], f"modules in an import cycle: {cycles}"
    assert "sar_helpers.plotting" not in reachable("sar_helpers.statistics")


def test_every_public_function_states_its_return_type():
    """mypy checks the bodies; this keeps each public function's result typed for readers and callers."""
    import importlib
    import inspect
    import pkgutil

    untyped = []
    for info in pkgutil.walk_packages(sar.__path__, "sar_helpers."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            members = [(name, obj)] if inspect.isfunction(obj) else []
            if inspect.isclass(obj):
                members = [
                    (f"{name}.{n}", f) for n, f in vars(obj).items() if inspect.isfunction(f) and not n.startswith("_")
                ]
            untyped += [f"{module.__name__}.{label}" for label, f in members if "return" not in f.__annotations__]
    assert untyped == []
