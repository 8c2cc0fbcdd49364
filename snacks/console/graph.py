"""The workflow graph, read from the ASL file CDK deploys: states as nodes, transitions as edges.

The console draws this (layout in the browser by the vendored dagre); an execution's path is
laid over it. New states in the ASL appear without a change here. A Parallel or Map state is one
node: its branches run inside it and their states are listed in its details.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

START = "Start"
END = "End"
TERMINAL_TYPES = {"Succeed", "Fail"}


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    comment: str = ""
    retries: list[str] = field(default_factory=list)  # error names retried, for the details panel
    synthetic: bool = False  # the Start / End markers the Step Functions console also draws


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # next | choice | default | catch | start | end


@dataclass(frozen=True)
class WorkflowGraph:
    nodes: list[Node]
    edges: list[Edge]

    def as_json(self) -> dict[str, Any]:
        return {"nodes": [asdict(node) for node in self.nodes], "edges": [asdict(edge) for edge in self.edges]}


def workflow_graph(definition: dict[str, Any]) -> WorkflowGraph:
    states: dict[str, dict[str, Any]] = definition["States"]
    nodes = [Node(START, "Start", synthetic=True)]
    edges = [Edge(START, str(definition["StartAt"]), "start")]
    for name, state in states.items():
        retried = [error for rule in state.get("Retry", []) for error in rule.get("ErrorEquals", [])]
        nodes.append(Node(name, str(state.get("Type", "?")), str(state.get("Comment", "")), retried))
        edges.extend(_transitions(name, state))
    nodes.append(Node(END, "End", synthetic=True))
    return WorkflowGraph(nodes, edges)


def _transitions(name: str, state: dict[str, Any]) -> list[Edge]:
    edges: list[Edge] = []
    if "Next" in state:
        edges.append(Edge(name, str(state["Next"]), "next"))
    for choice in state.get("Choices", []):
        if "Next" in choice:
            edges.append(Edge(name, str(choice["Next"]), "choice"))
    if "Default" in state:
        edges.append(Edge(name, str(state["Default"]), "default"))
    for catcher in state.get("Catch", []):
        edges.append(Edge(name, str(catcher["Next"]), "catch"))
    if state.get("End") or state.get("Type") in TERMINAL_TYPES:
        edges.append(Edge(name, END, "end"))
    # Two rules (or a Next and a Catch) may lead to the same state: one arrow is enough.
    unique: dict[tuple[str, str], Edge] = {}
    for edge in edges:
        unique.setdefault((edge.source, edge.target), edge)
    return list(unique.values())
