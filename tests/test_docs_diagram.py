"""The ontology diagram's geometry: no arrow passes through a box, no boxes overlap, every label fits.

The SVG ``kg docs`` makes from the ontology is parsed back: class boxes are ``rect.cls`` with their
``text``; arrows are ``path.sub`` / ``path.prop`` (``M``, ``L``, ``Q`` and ``C`` commands; curves are
flattened finely); property labels are ``rect.bg``. An arrow's own two boxes are the ones its first
and last points touch.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from kg.docs import diagram_svg
from kg.encode.dataset import load_ontology

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
CHAR_W = 7.2
"""A generous width per character of the 12px sans-serif labels (0.6 em)."""
TEXT_PAD = 4.0
TOUCH = 1.5
"""How close (px) an arrow's end must be to a box's border to be one of its ends."""
CURVE_STEPS = 64
Point = tuple[float, float]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    label: str = ""

    def overlaps(self, other: Rect) -> bool:
        return (
            self.x < other.x + other.w
            and other.x < self.x + self.w
            and self.y < other.y + other.h
            and (other.y < self.y + self.h)
        )

    def distance(self, p: Point) -> float:
        """Distance from ``p`` to the rectangle (0 inside)."""
        dx = max(self.x - p[0], 0.0, p[0] - self.x - self.w)
        dy = max(self.y - p[1], 0.0, p[1] - self.y - self.h)
        return (dx * dx + dy * dy) ** 0.5

    def crossed_by(self, a: Point, b: Point) -> bool:
        """Whether segment a-b enters the rectangle's interior (Liang-Barsky clipping, 0.5 px inset)."""
        inset = 0.5
        x0, x1, y0, y1 = self.x + inset, self.x + self.w - inset, self.y + inset, self.y + self.h - inset
        dx, dy = b[0] - a[0], b[1] - a[1]
        lo, hi = 0.0, 1.0
        for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
            if p == 0:
                if q < 0:
                    return False
                continue
            t = q / p
            if p < 0:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
            if lo > hi:
                return False
        return hi - lo > 1e-9


@dataclass(frozen=True)
class Arrow:
    kind: str
    points: list[Point]

    def segments(self) -> Iterator[tuple[Point, Point]]:
        return pairwise(self.points)


def flatten(d: str) -> list[Point]:
    """The points of an SVG path's M/L/H/V/Q/C commands (absolute), curves sampled finely."""
    tokens = re.findall(r"[MLHVQC]|-?\d+(?:\.\d+)?", d)
    points: list[Point] = []
    i, command = 0, ""
    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
        take = {"M": 2, "L": 2, "H": 1, "V": 1, "Q": 4, "C": 6}[command]
        values = [float(v) for v in tokens[i : i + take]]
        i += take
        here = points[-1] if points else (0.0, 0.0)
        if command in "ML":
            points.append((values[0], values[1]))
        elif command == "H":
            points.append((values[0], here[1]))
        elif command == "V":
            points.append((here[0], values[0]))
        else:
            controls = [here] + [(values[k], values[k + 1]) for k in range(0, take, 2)]
            for step in range(1, CURVE_STEPS + 1):
                points.append(_bezier(controls, step / CURVE_STEPS))
    return points


def _bezier(controls: list[Point], t: float) -> Point:
    while len(controls) > 1:
        controls = [((1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1]) for a, b in pairwise(controls)]
    return controls[0]


@dataclass(frozen=True)
class Diagram:
    boxes: list[Rect]
    arrows: list[Arrow]
    labels: list[Rect]


def parse(svg: str) -> Diagram:
    root = ET.fromstring(svg)
    boxes = []
    for link in root.iter(f"{SVG}a"):
        rect, text = link.find(f"{SVG}rect"), link.find(f"{SVG}text")
        assert rect is not None and text is not None
        boxes.append(Rect(*(float(rect.get(k, "0")) for k in ("x", "y", "width", "height")), "".join(text.itertext())))
    arrows = [
        Arrow(path.get("class", ""), flatten(path.get("d", "")))
        for path in root.iter(f"{SVG}path")
        if path.get("class") in ("sub", "prop")
    ]
    labels = [
        Rect(*(float(rect.get(k, "0")) for k in ("x", "y", "width", "height")))
        for rect in root.iter(f"{SVG}rect")
        if rect.get("class") == "bg"
    ]
    return Diagram(boxes, arrows, labels)


@pytest.fixture(scope="module")
def diagram() -> Diagram:
    return parse(diagram_svg(load_ontology(ROOT / "ontology")))


def ends(arrow: Arrow, boxes: list[Rect]) -> list[Rect]:
    """The boxes an arrow starts and ends at (the nearest to each end, which must touch it)."""
    found = []
    for point in (arrow.points[0], arrow.points[-1]):
        nearest = min(boxes, key=lambda box: box.distance(point))
        assert nearest.distance(point) <= TOUCH, f"an arrow end at {point} touches no box"
        found.append(nearest)
    return found


def test_diagram_has_boxes_and_arrows(diagram: Diagram) -> None:
    assert len(diagram.boxes) >= 10
    assert {a.kind for a in diagram.arrows} == {"sub", "prop"}
    assert len(diagram.labels) == sum(a.kind == "prop" for a in diagram.arrows)


def test_no_arrow_passes_through_another_box(diagram: Diagram) -> None:
    crossings = []
    for arrow in diagram.arrows:
        own = ends(arrow, diagram.boxes)
        for box in diagram.boxes:
            if box not in own and any(box.crossed_by(a, b) for a, b in arrow.segments()):
                crossings.append(f"{arrow.kind} {' -> '.join(b.label for b in own)} crosses {box.label}")
    assert not crossings, "\n".join(crossings)


def test_no_boxes_overlap(diagram: Diagram) -> None:
    for i, box in enumerate(diagram.boxes):
        for other in diagram.boxes[i + 1 :]:
            assert not box.overlaps(other), (box.label, other.label)


def test_every_class_label_fits_its_box(diagram: Diagram) -> None:
    for box in diagram.boxes:
        assert len(box.label) * CHAR_W + 2 * TEXT_PAD <= box.w, box.label


def test_property_labels_cover_no_box_and_no_other_label(diagram: Diagram) -> None:
    for i, label in enumerate(diagram.labels):
        assert not [box.label for box in diagram.boxes if label.overlaps(box)], label
        assert not [other for other in diagram.labels[i + 1 :] if label.overlaps(other)], label


def test_the_checks_catch_a_crossing() -> None:
    """A hand-made diagram whose one arrow runs through a third box fails the crossing check."""
    boxes = [Rect(0, 0, 100, 30, "A"), Rect(200, 0, 100, 30, "B"), Rect(400, 0, 100, 30, "C")]
    arrow = Arrow("prop", [(100, 15), (400, 15)])
    assert ends(arrow, boxes) == [boxes[0], boxes[2]]
    assert boxes[1].crossed_by(*next(arrow.segments()))
    assert not boxes[1].crossed_by((100, 40), (400, 40))
