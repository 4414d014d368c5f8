"""The report's figures fit: after drawing, no text of any figure extends past the figure, and no two panel
titles overlap, for demo-shaped data (3 models x 7 tasks), a 1-task run and a 12-task run."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from test_report import OFFICIAL, _collect, make_run

from plus.report.figures import build_figures
from plus.report.tables import ablation_comparisons
from plus.tasks import BUILTIN_TASKS, TaskSpec

TOLERANCE_PX = 1.0
EXTRA_TASKS = {
    f"thermostability_assay_{index}": TaskSpec(
        name=f"thermostability_assay_{index}", shape="protein_regression", headline_metric="spearman"
    )
    for index in range(5)
}
RUNS = {
    "demo": dict(BUILTIN_TASKS),
    "one_task": {"transmembrane": BUILTIN_TASKS["transmembrane"]},
    "twelve_tasks": {**BUILTIN_TASKS, **EXTRA_TASKS},
}


def _undrawn_tick_labels(figure: Figure) -> set[int]:
    """Tick labels matplotlib keeps but does not draw: those of ticks outside the axis' view interval."""
    hidden = set()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - 1e-9 * (high - low) <= tick.get_loc() <= high + 1e-9 * (high - low):
                    hidden.update({id(tick.label1), id(tick.label2)})
    return hidden


def _texts(figure: Figure) -> list[Text]:
    hidden = _undrawn_tick_labels(figure)
    return [
        text
        for text in figure.findobj(Text)
        if text.get_visible() and text.get_text().strip() and id(text) not in hidden
    ]


def overflowing_texts(figure: Figure) -> list[str]:
    """Every visible text (titles, labels, tick labels, legends, notes) reaching past the figure, after drawing."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    bounds = figure.bbox.padded(TOLERANCE_PX)
    problems = []
    for text in _texts(figure):
        extent = text.get_window_extent(renderer)
        if not bounds.containsx(extent.x0) or not bounds.containsx(extent.x1):
            problems.append(f"{text.get_text()!r} x {extent.x0:.0f}..{extent.x1:.0f} of {figure.bbox.width:.0f}")
        elif not bounds.containsy(extent.y0) or not bounds.containsy(extent.y1):
            problems.append(f"{text.get_text()!r} y {extent.y0:.0f}..{extent.y1:.0f} of {figure.bbox.height:.0f}")
    return problems


def overlapping_titles(figure: Figure) -> list[str]:
    """Pairs of panel titles whose drawn extents overlap (a title running into its neighbour's)."""
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.canvas.draw()
    titles = [
        (axes.title.get_text(), axes.title.get_window_extent(renderer))
        for axes in figure.axes
        if axes.get_visible() and axes.axison and axes.title.get_text()
    ]
    return [
        f"{first!r} and {second!r}"
        for index, (first, a) in enumerate(titles)
        for second, b in titles[index + 1 :]
        if Bbox.intersection(a, b) is not None and a.overlaps(b)
    ]


@pytest.fixture(scope="module", params=list(RUNS))
def figures(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Figure]:
    """Every figure of the report on one of RUNS, drawn from a fake results tree (2 seeds)."""
    root = tmp_path_factory.mktemp(request.param)
    files = make_run(root, seeds=(0, 1), tasks=RUNS[request.param])
    data = _collect(files, provenance=OFFICIAL)
    return {name: draw() for name, draw in build_figures(data, ablation_comparisons(data)).items()}


def test_no_text_extends_past_its_figure(figures: dict[str, Figure]) -> None:
    problems = {name: overflowing_texts(figure) for name, figure in figures.items()}
    assert not any(problems.values()), {name: found for name, found in problems.items() if found}


def test_no_panel_titles_overlap(figures: dict[str, Figure]) -> None:
    problems = {name: overlapping_titles(figure) for name, figure in figures.items()}
    assert not any(problems.values()), {name: found for name, found in problems.items() if found}
