"""Orthogonal arrow routing around boxes, and label placement, for the ontology diagram.

The routing grid has lines a clearance ``PAD`` outside each side of every box, through each box
(at its middle and quarters: the ports arrows leave and enter by), and round the whole drawing.
An arrow is the cheapest path on that grid (A*: length, plus a cost per bend and per length shared
with an earlier arrow) from a port of its source box to a port of its target box that enters no
other box; it is then cut where it leaves the source box and where it reaches the target box.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from itertools import pairwise

PAD = 10.0
"""Clearance between an arrow and a box it passes."""
BEND_COST = 40.0
SHARED_COST = 4.0
"""Extra cost per unit of length already used by another arrow (spreads arrows over the gutters)."""
LABEL_GAP = 2.0
Point = tuple[float, float]
Node = tuple[int, int]


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle: top-left corner, width, height."""

    x: float
    y: float
    w: float
    h: float

    def contains(self, p: Point) -> bool:
        """Whether ``p`` is strictly inside."""
        return self.x < p[0] < self.x + self.w and self.y < p[1] < self.y + self.h

    def overlaps(self, other: Rect, gap: float = 0.0) -> bool:
        return (
            self.x < other.x + other.w + gap
            and other.x < self.x + self.w + gap
            and self.y < other.y + other.h + gap
            and other.y < self.y + self.h + gap
        )

    def crossed(self, a: Point, b: Point) -> bool:
        """Whether the axis-parallel segment a-b passes through the interior."""
        if a[1] == b[1]:
            return self.y < a[1] < self.y + self.h and min(a[0], b[0]) < self.x + self.w and max(a[0], b[0]) > self.x
        return self.x < a[0] < self.x + self.w and min(a[1], b[1]) < self.y + self.h and max(a[1], b[1]) > self.y


class Router:
    """Routes arrows between the named boxes of a drawing ``width`` x ``height``."""

    def __init__(self, boxes: dict[str, Rect], width: float, height: float) -> None:
        self.boxes = boxes
        xs, ys = {PAD, width - PAD}, {PAD, height - PAD}
        for r in boxes.values():
            xs |= {r.x - PAD, r.x + r.w + PAD, r.x + r.w / 4, r.x + r.w / 2, r.x + 3 * r.w / 4}
            ys |= {r.y - PAD, r.y + r.h + PAD, r.y + r.h / 2}
        self.xs, self.ys = sorted(xs), sorted(ys)
        self._through: dict[tuple[Node, Node], frozenset[str]] = {}
        self._used: dict[tuple[Node, Node], int] = {}

    def point(self, node: Node) -> Point:
        return self.xs[node[0]], self.ys[node[1]]

    def distance(self, source: str, target: str) -> float:
        """Manhattan distance between two boxes' centres."""
        a, b = self.boxes[source], self.boxes[target]
        return abs(a.x + a.w / 2 - b.x - b.w / 2) + abs(a.y + a.h / 2 - b.y - b.h / 2)

    def _ports(self, key: str) -> list[Node]:
        box = self.boxes[key]
        return [
            (i, j)
            for i, x in enumerate(self.xs)
            for j, y in enumerate(self.ys)
            if box.contains((x, y)) and y == box.y + box.h / 2
        ]

    def _boxes_on(self, a: Node, b: Node) -> frozenset[str]:
        step = (min(a, b), max(a, b))
        if step not in self._through:
            p, q = self.point(step[0]), self.point(step[1])
            self._through[step] = frozenset(k for k, r in self.boxes.items() if r.crossed(p, q))
        return self._through[step]

    def route(self, source: str, target: str) -> list[Point]:
        """The arrow's points, from the source box's border to the target box's border."""
        own = {source, target}
        goals = set(self._ports(target))
        goal_box = self.boxes[target]
        gx, gy = goal_box.x + goal_box.w / 2, goal_box.y + goal_box.h / 2

        def estimate(node: Node) -> float:
            x, y = self.point(node)
            return abs(x - gx) + abs(y - gy) - goal_box.w / 2

        queue: list[tuple[float, float, Node, int]] = []
        came: dict[tuple[Node, int], tuple[Node, int] | None] = {}
        cost: dict[tuple[Node, int], float] = {}
        for port in self._ports(source):
            cost[(port, -1)], came[(port, -1)] = 0.0, None
            heapq.heappush(queue, (estimate(port), 0.0, port, -1))
        end: tuple[Node, int] | None = None
        while queue:
            _, spent, node, heading = heapq.heappop(queue)
            if spent > cost.get((node, heading), float("inf")):
                continue
            if node in goals:
                end = (node, heading)
                break
            for direction, (di, dj) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1))):
                nxt = (node[0] + di, node[1] + dj)
                if not (0 <= nxt[0] < len(self.xs) and 0 <= nxt[1] < len(self.ys)):
                    continue
                if not self._boxes_on(node, nxt) <= own:
                    continue
                length = abs(self.xs[nxt[0]] - self.xs[node[0]]) + abs(self.ys[nxt[1]] - self.ys[node[1]])
                step = (min(node, nxt), max(node, nxt))
                total = spent + length * (1 + SHARED_COST * self._used.get(step, 0))
                total += BEND_COST if heading not in (-1, direction) else 0.0
                if total < cost.get((nxt, direction), float("inf")):
                    cost[(nxt, direction)], came[(nxt, direction)] = total, (node, heading)
                    heapq.heappush(queue, (total + estimate(nxt), total, nxt, direction))
        if end is None:
            raise ValueError(f"no route from {source} to {target}")
        nodes: list[Node] = []
        state: tuple[Node, int] | None = end
        while state is not None:
            nodes.append(state[0])
            state = came[state]
        nodes.reverse()
        for a, b in pairwise(nodes):
            step = (min(a, b), max(a, b))
            self._used[step] = self._used.get(step, 0) + 1
        leaving = _clip(_corners([self.point(n) for n in nodes]), self.boxes[source])
        return _clip(leaving[::-1], goal_box)[::-1]


def _corners(points: list[Point]) -> list[Point]:
    """The points where the path turns (and its two ends)."""
    kept = [points[0]]
    for here, nxt in pairwise(points[1:]):
        prev = kept[-1]
        if not (prev[0] == here[0] == nxt[0] or prev[1] == here[1] == nxt[1]):
            kept.append(here)
    if len(points) > 1:
        kept.append(points[-1])
    return kept


def _clip(points: list[Point], box: Rect) -> list[Point]:
    """The path from where it first leaves ``box`` (it starts inside it)."""
    last_inside = next((i for i in range(len(points) - 1) if not box.contains(points[i + 1])), None)
    if last_inside is None:
        return points
    (ax, ay), (bx, by) = points[last_inside], points[last_inside + 1]
    if ay == by:
        x = box.x + box.w if bx > ax else box.x
        exit_point = (min(max(x, min(ax, bx)), max(ax, bx)), ay)
    else:
        y = box.y + box.h if by > ay else box.y
        exit_point = (ax, min(max(y, min(ay, by)), max(ay, by)))
    return [exit_point, *points[last_inside + 1 :]]


def place_label(points: list[Point], w: float, h: float, avoid: list[Rect]) -> Rect:
    """Where a ``w`` x ``h`` label goes on the path: centred on a segment, covering nothing in ``avoid``.

    Horizontal segments first, longest first, then positions along each; if none is free, the middle
    of the longest segment."""
    segments = sorted(
        pairwise(points), key=lambda s: (s[0][1] != s[1][1], -abs(s[0][0] - s[1][0]) - abs(s[0][1] - s[1][1]))
    )
    for (ax, ay), (bx, by) in segments:
        for t in (0.5, 0.35, 0.65, 0.2, 0.8):
            cx, cy = ax + (bx - ax) * t, ay + (by - ay) * t
            spot = Rect(cx - w / 2, cy - h / 2, w, h)
            if not any(spot.overlaps(other, LABEL_GAP) for other in avoid):
                return spot
    (ax, ay), (bx, by) = max(pairwise(points), key=lambda s: abs(s[0][0] - s[1][0]) + abs(s[0][1] - s[1][1]))
    return Rect((ax + bx) / 2 - w / 2, (ay + by) / 2 - h / 2, w, h)
