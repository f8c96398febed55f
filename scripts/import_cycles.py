"""An import-linter contract type for `make lint`: no import cycle at all among a package's modules.

import-linter's own `acyclic_siblings` finds cycles between sibling modules only; a cycle through a
package's `__init__` (a package that imports a backend which imports the package back) is not one
between siblings, and this contract finds it too. Every import counts, function-level (lazy) ones
included: a lazy import breaks the cycle at import time, not the dependency. Registered in
pyproject.toml's [tool.importlinter] `contract_types` (lint-imports puts the working directory on
sys.path, so `scripts.import_cycles` imports from the repository root).
"""

from __future__ import annotations

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def _components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan) with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


class NoCyclesContract(Contract):
    type_name = "no_cycles"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        def inside(module: str) -> bool:
            return any(module == p or module.startswith(p + ".") for p in self.packages)

        modules = {m for m in graph.modules if inside(m)}
        edges = {m: {n for n in graph.find_modules_directly_imported_by(m) if n in modules and n != m} for m in modules}
        cycles = []
        for component in _components(edges):
            members = set(component)
            # One concrete cycle per component: its first module, one of its imports inside the
            # component, and the shortest way back.
            start = component[0]
            step = min(n for n in edges[start] if n in members)
            back = graph.find_shortest_chain(importer=step, imported=start, as_packages=False) or (step, start)
            cycles.append({"modules": component, "cycle": [start, *back]})
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for found in check.metadata["cycles"]:
            output.print_error(f"Import cycle among {len(found['modules'])} modules: {', '.join(found['modules'])}")
            output.print_error("  e.g. " + " -> ".join(found["cycle"]), bold=False)
            output.new_line()
