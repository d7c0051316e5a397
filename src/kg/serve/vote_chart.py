"""An SVG picture of a recorded vote: a bar per option and a square per state, no script needed.

Built with ElementTree, so the output is well-formed XML with every text and attribute escaped;
it is inlined in the resolution's HTML page.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from kg.namespaces import VOCAB

SVG_NS = "http://www.w3.org/2000/svg"
COLOURS = {
    str(VOCAB["in-favour"]): "#2e7d32",
    str(VOCAB["against"]): "#c62828",
    str(VOCAB["abstention"]): "#f9a825",
    str(VOCAB["absent"]): "#8d8d8d",
}
FALLBACK_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#4e342e")

WIDTH = 640
LABEL_WIDTH = 110
BAR_HEIGHT = 22
BAR_GAP = 8
CELL = 16
CELL_GAP = 3
PER_ROW = (WIDTH - 2) // (CELL + CELL_GAP)


@dataclass(frozen=True)
class Bar:
    """One option: its name, how many records have it, and the tally a document states (if any)."""

    option: str
    label: str
    count: int
    stated: int | None = None


@dataclass(frozen=True)
class Cell:
    """One voter: its name, the page to link to, and the option it took."""

    label: str
    href: str
    option: str


def colour_of(option: str, order: list[str]) -> str:
    """The colour for an option: fixed for the UN options, else by its position."""
    fixed = COLOURS.get(str(option))
    if fixed:
        return fixed
    return FALLBACK_COLOURS[order.index(option) % len(FALLBACK_COLOURS)] if option in order else "#000"


def vote_svg(title: str, bars: list[Bar], cells: list[Cell]) -> str:
    """The chart as an ``<svg>`` element string: bars on top, then the grid of voters."""
    order = [bar.option for bar in bars]
    total = max(sum(bar.count for bar in bars), 1)
    bars_height = len(bars) * (BAR_HEIGHT + BAR_GAP)
    rows = -(-len(cells) // PER_ROW)
    height = bars_height + 20 + rows * (CELL + CELL_GAP)
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {WIDTH} {height}",
            "width": str(WIDTH),
            "height": str(height),
            "role": "img",
            "aria-labelledby": "vote-chart-title",
            "class": "vote-chart",
        },
    )
    ET.SubElement(svg, "title", {"id": "vote-chart-title"}).text = title
    _bars(svg, bars, order, total)
    _grid(svg, cells, order, bars_height + 20)
    return ET.tostring(svg, encoding="unicode")


def _bars(svg: ET.Element, bars: list[Bar], order: list[str], total: int) -> None:
    scale = (WIDTH - LABEL_WIDTH - 150) / total
    for i, bar in enumerate(bars):
        y = i * (BAR_HEIGHT + BAR_GAP)
        group = ET.SubElement(svg, "g", {"class": "bar"})
        ET.SubElement(group, "title").text = _bar_note(bar)
        label = ET.SubElement(group, "text", {"x": "0", "y": str(y + BAR_HEIGHT - 6)})
        label.text = bar.label
        width = max(bar.count * scale, 1)
        attrs = {"x": str(LABEL_WIDTH), "y": str(y), "width": f"{width:.1f}", "height": str(BAR_HEIGHT)}
        ET.SubElement(group, "rect", {**attrs, "fill": colour_of(bar.option, order)})
        value = ET.SubElement(group, "text", {"x": f"{LABEL_WIDTH + width + 6:.1f}", "y": str(y + BAR_HEIGHT - 6)})
        value.text = _bar_note(bar)


def _bar_note(bar: Bar) -> str:
    if bar.stated is None:
        return f"{bar.count}"
    return f"{bar.count} (stated: {bar.stated})"


def _grid(svg: ET.Element, cells: list[Cell], order: list[str], top: int) -> None:
    grid = ET.SubElement(svg, "g", {"class": "grid"})
    for i, cell in enumerate(cells):
        x = (i % PER_ROW) * (CELL + CELL_GAP)
        y = top + (i // PER_ROW) * (CELL + CELL_GAP)
        link = ET.SubElement(grid, "a", {"href": cell.href})
        rect = ET.SubElement(
            link,
            "rect",
            {"x": str(x), "y": str(y), "width": str(CELL), "height": str(CELL), "fill": colour_of(cell.option, order)},
        )
        ET.SubElement(rect, "title").text = cell.label
