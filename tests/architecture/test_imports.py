"""The import graph has no cycle at all: module-level, deferred (inside functions) and TYPE_CHECKING imports.

The layer rule itself is the import-linter contract in ``pyproject.toml`` (run by ``scripts/test.sh``); this
test also catches cycles inside one layer, which a layers contract allows.
"""

from __future__ import annotations

import grimp

PACKAGES = ("bot", "handlers", "broadcasts", "faq")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted; a self-import counts too."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:  # iterative Tarjan: the graph is small, but recursion limits are not our concern
        nonlocal counter
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or graph.direct_import_exists(importer=node, imported=node):
                    out.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return out


def test_the_project_has_no_import_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES)
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_deferred_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES)
    # What bot/app/runtime.py did before the layout change: the leader lazily importing the runtime back.
    graph.add_import(importer="bot.app.leader", imported="bot.app.runtime", line_number=1, line_contents="x")
    assert ["bot.app.leader", "bot.app.runtime"] in import_cycles(graph)


def test_nothing_imports_the_composition_root() -> None:
    graph = grimp.build_graph(*PACKAGES)
    importers = {
        m for m in graph.find_downstream_modules("bot.app", as_package=True)
        if not m.startswith("bot.app") and m != "bot.__main__"
    }
    assert importers == set()
