"""Charts drawn on the server as SVG: no script, no library, nothing from a CDN. Colours
come from the stylesheet through class names."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 200
LEFT, BOTTOM, TOP = 48, 28, 12


def _nice_max(value: Decimal | float) -> float:
    """A round axis top at or above ``value``."""
    value = float(value)
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10.0 * magnitude


def bars(
    points: Sequence[tuple[str, Decimal | float]],
    title: str,
    every: int = 1,
    value_label=str,
) -> Markup:
    """A bar chart of (label, value); every ``every``-th label is written under its bar."""
    top = _nice_max(max((float(v) for _, v in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(points))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_short(top * fraction))}</text>"
        )
    for n, (label, value) in enumerate(points):
        height = plot_h * float(value) / top
        x = LEFT + n * slot + slot * 0.15
        y = TOP + plot_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}"><title>{escape(label)}: {escape(value_label(value))}</title>'
            "</rect>"
        )
        if n % every == 0:
            parts.append(
                f'<text class="axis" x="{x + slot * 0.35:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text in it went through escape)


# upper bounds in seconds of the confirmation-time buckets
BUCKETS = (60, 120, 300, 600, 1800, 3600)


def buckets(seconds: Sequence[float]) -> list[tuple[int | None, int]]:
    """How many confirmation times fall in each bucket (None: longer than the last)."""
    counts = [0] * (len(BUCKETS) + 1)
    for value in seconds:
        place = next((n for n, bound in enumerate(BUCKETS) if value < bound), len(BUCKETS))
        counts[place] += 1
    return [(bound, counts[n]) for n, bound in enumerate((*BUCKETS, None))]


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"
