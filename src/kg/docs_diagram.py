"""An SVG diagram of classes and the properties between them, laid out here (no external service).

Each root class heads a block with its subclasses in a row below it. Blocks are placed in layers by
the longest chain of properties leading to them (domain above range), so most arrows point down.
Arrows are routed orthogonally around the boxes (:mod:`kg.docs_routing`): no arrow passes through a
box other than its own two, and each property label is put where it covers no box and no other label.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from kg.docs_routing import Rect, Router, place_label

BOX_W, BOX_H = 150, 34
GAP_X, CHILD_GAP, LAYER_GAP, MARGIN = 44, 40, 120, 30
CHAR_W = 6.8
"""Approximate width of one character of the 12px label font, for label backgrounds."""
LABEL_H = 14


@dataclass(frozen=True)
class Box:
    """A class's box: its key, label, hyperlink and top-left corner."""

    key: str
    label: str
    href: str
    x: float
    y: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + BOX_W / 2, self.y + BOX_H / 2


@dataclass(frozen=True)
class Edge:
    """A property (or several, joined) from a domain class to a range class."""

    source: str
    target: str
    label: str


def _root(key: str, parent: dict[str, str | None]) -> str:
    seen = {key}
    while (up := parent.get(key)) is not None and up not in seen:
        seen.add(up)
        key = up
    return key


def _layers(roots: list[str], links: set[tuple[str, str]]) -> list[list[str]]:
    """Longest-path layering of the root blocks; cycles are cut by a bound on the rounds."""
    depth = dict.fromkeys(roots, 0)
    for _ in range(len(roots)):
        changed = False
        for a, b in sorted(links):
            if depth[b] < depth[a] + 1 <= len(roots):
                depth[b], changed = depth[a] + 1, True
        if not changed:
            break
    layers: dict[int, list[str]] = defaultdict(list)
    for root in roots:
        layers[depth[root]].append(root)
    return [layers[d] for d in sorted(layers)]


def layout(
    labels: dict[str, str], parent: dict[str, str | None], edges: list[Edge], href: dict[str, str]
) -> dict[str, Box]:
    """Boxes for every class in ``labels``; ``parent`` maps a class to its superclass (None for roots)."""
    roots = sorted((k for k in labels if parent.get(k) is None), key=lambda k: labels[k].lower())
    children: dict[str, list[str]] = defaultdict(list)
    for key in sorted(labels, key=lambda k: labels[k].lower()):
        if parent.get(key) is not None:
            children[_root(key, parent)].append(key)
    links = {(_root(e.source, parent), _root(e.target, parent)) for e in edges}
    links = {(a, b) for a, b in links if a != b}
    layers = _layers(roots, links)

    def width(root: str) -> float:
        return max(1, len(children[root])) * (BOX_W + GAP_X) - GAP_X

    total = max(sum(width(r) + GAP_X * 2 for r in layer) for layer in layers)
    boxes: dict[str, Box] = {}
    y = MARGIN
    for layer in layers:
        x = MARGIN + (total - sum(width(r) + GAP_X * 2 for r in layer)) / 2
        for root in layer:
            x += GAP_X
            boxes[root] = Box(root, labels[root], href[root], x + (width(root) - BOX_W) / 2, y)
            for i, child in enumerate(children[root]):
                cx = x + i * (BOX_W + GAP_X)
                boxes[child] = Box(child, labels[child], href[child], cx, y + BOX_H + CHILD_GAP)
            x += width(root) + GAP_X
        y += BOX_H * (2 if any(children[r] for r in layer) else 1) + CHILD_GAP + LAYER_GAP
    return boxes


def _rect(box: Box) -> Rect:
    return Rect(box.x, box.y, BOX_W, BOX_H)


def _path(points: list[tuple[float, float]], css: str, marker: str) -> str:
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<path class="{css}" d="{d}" marker-end="url(#{marker})"/>'


def class_diagram(
    labels: dict[str, str], parent: dict[str, str | None], edges: list[Edge], href: dict[str, str]
) -> str:
    """The SVG document: boxes for classes, hollow arrows to superclasses, labelled arrows for properties."""
    merged: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e in edges:
        if e.source in labels and e.target in labels and e.label not in merged[(e.source, e.target)]:
            merged[(e.source, e.target)].append(e.label)
    boxes = layout(labels, parent, [Edge(s, t, "") for s, t in merged], href)
    width = max(b.x for b in boxes.values()) + BOX_W + MARGIN
    height = max(b.y for b in boxes.values()) + BOX_H + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="diagram-title">',
        '<title id="diagram-title">Classes of the ontology and the properties between them</title>',
        "<defs>",
        '<marker id="prop" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>',
        '<marker id="sub" viewBox="0 0 12 12" refX="12" refY="6" markerWidth="12" markerHeight="12" orient="auto">'
        '<path d="M0,0 L12,6 L0,12 z" fill="#fff" stroke="#333"/></marker>',
        "</defs>",
        "<style>.sub{stroke:#333;fill:none}.prop{stroke:#777;fill:none;stroke-dasharray:4 2}"
        "rect.cls{fill:#eef3fb;stroke:#2b4c7e}text{font:12px sans-serif}.lbl{fill:#333}"
        "rect.bg{fill:#fff;opacity:.85}</style>",
    ]
    router = Router({key: _rect(box) for key, box in boxes.items()}, width, height)
    subclass = [(key, up) for key, up in sorted(parent.items()) if up is not None and key in boxes and up in boxes]
    for key, up in subclass:
        parts.append(_path(router.route(key, up), "sub", "sub"))
    routes = []
    # Short arrows first: they take the direct lines, longer ones go round them.
    for (source, target), names in sorted(merged.items(), key=lambda item: router.distance(*item[0])):
        if source != target:
            routes.append((router.route(source, target), ", ".join(names)))
    texts = []
    placed: list[Rect] = []
    for points, text in routes:
        parts.append(_path(points, "prop", "prop"))
        w = len(text) * CHAR_W + 6
        spot = place_label(points, w, LABEL_H, [*router.boxes.values(), *placed])
        placed.append(spot)
        texts.append(
            f'<rect class="bg" x="{spot.x:.1f}" y="{spot.y:.1f}" width="{w:.1f}" height="{LABEL_H}"/>'
            f'<text class="lbl" x="{spot.x + w / 2:.1f}" y="{spot.y + 11:.1f}" text-anchor="middle">{escape(text)}</text>'
        )
    for box in sorted(boxes.values(), key=lambda b: b.key):
        parts.append(
            f'<a href={quoteattr(box.href)}><rect class="cls" x="{box.x:.1f}" y="{box.y:.1f}" '
            f'width="{BOX_W}" height="{BOX_H}" rx="4"/>'
            f'<text x="{box.x + BOX_W / 2:.1f}" y="{box.y + BOX_H / 2 + 4:.1f}" text-anchor="middle">'
            f"{escape(box.label)}</text></a>"
        )
    parts += texts  # labels last, so that no box hides one
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
