"""Order of a pipeline's nodes: Kahn's algorithm over the input feeds, and cycle finding."""

from __future__ import annotations

from collections.abc import Mapping


def topological_order(entry: list[str], feeds: Mapping[str, Mapping[str, str]]) -> list[str] | None:
    """Kahn's algorithm from the entry nodes; None when a cycle is found."""
    waiting = {node: set(ports.values()) for node, ports in feeds.items() if node not in entry}
    order, ready = [], list(entry)
    while ready:
        node = ready.pop(0)
        order.append(node)
        for other, sources in waiting.items():
            if node in sources:
                sources.discard(node)
                if not sources and other not in order and other not in ready:
                    ready.append(other)
    blocked = [n for n, sources in waiting.items() if sources and _on_cycle(n, feeds)]
    return None if blocked else order


def _on_cycle(start: str, feeds: Mapping[str, Mapping[str, str]]) -> bool:
    seen, stack = set(), list(feeds.get(start, {}).values())
    while stack:
        node = stack.pop()
        if node == start:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(feeds.get(node, {}).values())
    return False
