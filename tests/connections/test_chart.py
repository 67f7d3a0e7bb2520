"""The dashboard chart's geometry: stacked columns, scaled to the busiest one."""

from connections.support.chart import SIZE, stacked_columns

SERIES = [("Complete", "good"), ("Failed", "bad")]


def test_it_stacks_each_columns_series_bottom_up_scaled_to_the_peak():
    chart = stacked_columns([{"Complete": 2, "Failed": 2}, {"Complete": 1, "Failed": 0}], SERIES, ["09:00", "10:00"])
    busy, quiet = chart["columns"]
    baseline = SIZE["top"] + SIZE["height"]
    assert [(s["label"], s["y"], s["height"]) for s in busy["segments"]] == [
        ("Complete", baseline - 60, 60),
        ("Failed", baseline - 120, 60),
    ]
    assert [(s["label"], s["height"]) for s in quiet["segments"]] == [("Complete", 30)]  # zero counts draw nothing
    assert (busy["x"], quiet["x"]) == (0, SIZE["bar"] + SIZE["gap"])
    assert (busy["total"], quiet["total"], chart["peak"]) == (4, 1, 4)
    assert chart["baseline"] == baseline and chart["legend"] == SERIES


def test_it_keeps_a_tiny_count_visible():
    [_, small] = stacked_columns([{"Complete": 1000}, {"Complete": 1}], SERIES, ["a", "b"])["columns"]
    assert small["segments"][0]["height"] == 1


def test_it_labels_every_sixth_column_and_sizes_the_drawing():
    chart = stacked_columns([{}] * 24, SERIES, [f"{h:02}:00" for h in range(24)])
    assert [c["label"] for c in chart["columns"] if c["tick"]] == ["00:00", "06:00", "12:00", "18:00"]
    assert chart["width"] == 24 * (SIZE["bar"] + SIZE["gap"]) - SIZE["gap"]
    assert chart["height"] == SIZE["top"] + SIZE["height"] + SIZE["bottom"]
    assert chart["peak"] == 1 and all(c["segments"] == [] for c in chart["columns"])
