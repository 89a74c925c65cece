"""The layout holds: components import only what they own or share, and no import cycle exists.

Read from the source (every import, TYPE_CHECKING and function-level ones included), so the
fast tier checks it without starting an interpreter.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "exporter", "bridge", "demo")
# What each component may import from the project; anything else is another's internals.
ALLOWED = {
    "common": {"common"},
    "exporter": {"common", "exporter"},
    "bridge": {"common", "bridge"},
    "demo": {"common", "exporter", "bridge", "demo"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")
    }


def imports(path: Path, name: str, modules: dict[str, Path]) -> Iterator[str]:
    """Modules ``path`` imports: ``from a import b`` is ``a.b`` if that is a module, else ``a``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in modules else base


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {
        name: {
            target
            for target in imports(path, name, modules)
            if target in modules and target != name
        }
        for name, path in modules.items()
    }


@pytest.mark.parametrize("component", PACKAGES)
def test_each_component_imports_only_what_it_owns_or_shares(component: str) -> None:
    wrong = sorted(
        f"{source} imports {target}"
        for source, targets in graph().items()
        if source.split(".")[0] == component
        for target in targets
        if target.split(".")[0] not in ALLOWED[component]
    )
    assert wrong == []


def test_no_import_cycle() -> None:
    edges = graph()
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                cycles.append(sorted(members))

    for node in edges:
        if node not in index:
            visit(node)
    assert cycles == []
