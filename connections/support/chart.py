"""Geometry of a stacked column chart, for an SVG the server renders: plain numbers in, plain numbers out.

No Django and no database: the caller counts, this places. Each column stacks its
series bottom-up in the order given; the tallest column fills the chart's height.
"""

# 24 columns make a drawing 1,190 units wide: drawn at the full width of its card (a dashboard at
# 1280 px), one unit is about one pixel, so the labels keep their size and the bars their shape.
SIZE = {"bar": 40, "gap": 10, "height": 120, "top": 8, "bottom": 22}
LABEL_BELOW = 16  # the column labels' baseline, below the chart's baseline


def stacked_columns(buckets, series, labels, tick_every=6, size=SIZE):
    """Columns of stacked segments, with what the template needs to draw them.

    buckets: one {series label: count} per column; series: [(label, tone)] bottom-up;
    labels: one text per column (every `tick_every`th is drawn under the axis).
    A non-zero count is at least 1 px tall, so it never disappears.
    """
    bar, gap, height, top, bottom = (size[k] for k in ("bar", "gap", "height", "top", "bottom"))
    peak = max((sum(bucket.values()) for bucket in buckets), default=0) or 1
    columns = []
    for index, (bucket, label) in enumerate(zip(buckets, labels, strict=True)):
        x = index * (bar + gap)
        y = top + height
        segments = []
        for name, tone in series:
            count = bucket.get(name, 0)
            if not count:
                continue
            h = max(1, round(count / peak * height))
            y -= h
            segments.append({"x": x, "y": y, "height": h, "tone": tone, "label": name, "count": count})
        columns.append(
            {
                "x": x,
                "label": label,
                "segments": segments,
                "total": sum(bucket.values()),
                "tick": index % tick_every == 0,
            }
        )
    return {
        "columns": columns,
        "width": len(buckets) * (bar + gap) - gap,
        "height": top + height + bottom,
        "baseline": top + height,
        "label_y": top + height + LABEL_BELOW,
        "bar": bar,
        "peak": peak,
        "legend": list(series),
    }
