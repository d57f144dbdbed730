"""Draw the HTML report from analysis.report_data: an index plus one page per study; plotly.js once, next to them."""

from __future__ import annotations

import base64
import html
import math
import warnings
from pathlib import Path

import optuna
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.best import format_refit
from analysis.pages import PLOTLY_FILE, write_plotly_js
from analysis.report_data import ROLE_ORDER, Curve, ParameterInfo, StudyReport, all_reports
from datasets.atomic import write_text
from datasets.regular_files import read_regular_bytes
from sweeps.names import file_stem

PARAMETER_PREFIX = "parameter "
ROLE_MEANINGS = {"scientific": "what the study asks about", "nuisance": "tuned so the scientific comparison is fair",
                 "fixed": "held at one value", "unassigned": "no role in the study file"}
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.warning{background:#fff3cd;border:1px solid #e0c060;padding:.4em .8em;margin:.3em 0}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid figure{margin:0}.grid img{image-rendering:pixelated;max-width:360px}
code{background:#f4f4f4;padding:.1em .3em;word-break:break-all}"""


def parameter_figure(info: ParameterInfo, objective: str) -> go.Figure:
    """One hyperparameter against the objective; the best trial in red; the title warns when it is at an edge."""
    categorical = info.kind == "categorical"
    x_values = [str(value) for value in info.values] if categorical else info.values
    figure = go.Figure(go.Scatter(x=x_values, y=info.objectives, mode="markers", name="trials",
                                  marker={"color": "#1f77b4", "opacity": 0.7}))
    if info.best_value is not None:
        best_y = max(info.objectives) if info.objectives else None
        for value, objective_value in zip(info.values, info.objectives, strict=True):
            if value == info.best_value:
                best_y = objective_value
        figure.add_trace(go.Scatter(x=[str(info.best_value) if categorical else info.best_value], y=[best_y],
                                    mode="markers", name="best", marker={"color": "red", "size": 12}))
    title = f"{info.name}" + (" ⚠ best value at the edge of the range" if info.at_edge else "")
    figure.update_layout(title={"text": title, "font": {"size": 13, "color": "#b35900" if info.at_edge else "#222"}},
                         xaxis_title=info.name, yaxis_title=objective, height=300, width=380, showlegend=False,
                         margin={"l": 50, "r": 10, "t": 40, "b": 40})
    if info.log and not categorical:
        figure.update_xaxes(type="log")
    if not categorical and info.low is not None and info.high is not None:
        low, high = (math.log10(info.low), math.log10(info.high)) if info.log else (info.low, info.high)
        figure.update_xaxes(range=[low, high])
    return figure


def curves_figure(curves: list[Curve], objective: str) -> go.Figure:
    """Learning curves of the top trials: the objective's metric and the training loss by epoch."""
    names = [objective, "train/loss"]
    figure = make_subplots(rows=1, cols=2, subplot_titles=names)
    colors = plotly.colors.qualitative.Plotly
    for index, curve in enumerate(curves):
        for column, name in enumerate(names, start=1):
            if name in curve.series:
                figure.add_trace(go.Scatter(x=curve.steps, y=curve.series[name], mode="lines+markers",
                                            name=f"trial {curve.trial}", legendgroup=str(curve.trial),
                                            line={"color": colors[index % len(colors)]},
                                            showlegend=column == 1), row=1, col=column)
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(height=360, title="learning curves of the top trials")
    return figure


def study_figures(study: optuna.Study, report: StudyReport) -> dict[str, go.Figure]:
    """Optuna's own plots where they fit, plus ours; a plot that cannot be drawn (too few trials) is left out."""
    figures: dict[str, go.Figure] = {}
    plots = {"optimisation history": optuna.visualization.plot_optimization_history,
             "parallel coordinates": optuna.visualization.plot_parallel_coordinate,
             "hyperparameter importance": optuna.visualization.plot_param_importances}
    for title, plot in plots.items():
        try:
            with warnings.catch_warnings():  # "few trials per regime" notes from the importance evaluator
                warnings.simplefilter("ignore")
                figures[title] = plot(study)
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue
    if report.curves:
        figures["learning curves"] = curves_figure(report.curves, report.objective)
    for info in report.parameters:
        figures[f"{PARAMETER_PREFIX}{info.name}"] = parameter_figure(info, report.objective)
    return figures


def _figure_html(figure: go.Figure) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, default_height=figure.layout.height or 450,
                          config={"displaylogo": False})


def _image_tag(path: Path, alt: str) -> str:
    try:
        data = base64.b64encode(read_regular_bytes(path)).decode()  # a FIFO swapped in after the listing: no hang
    except OSError as error:
        return f"<em>{html.escape(f'{path.name}: not shown ({error.strerror or error})')}</em>"
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def render_study_page(report: StudyReport, figures: dict[str, go.Figure]) -> str:
    """A self-contained page (images inline) that loads plotly.js from the file next to it."""
    escape = html.escape
    parts = [f"<h1>{escape(report.name)}</h1>", '<p><a href="index.html">all studies</a></p>',
             "<table><tr><th>task</th><th>objective</th><th>trials</th><th>best value</th><th>best trial</th></tr>",
             f"<tr><td>{escape(report.task)}</td><td>{escape(report.objective)} ({report.direction})</td>"
             f"<td>{_states(report)}</td><td>{_format(report.best_value)}</td><td>{report.best_trial}</td></tr>"
             "</table>"]
    if report.reproduce:
        parts.append(f"<p>reproduce the best trial: <code>{escape(report.reproduce)}</code></p>")
    if report.refit:
        parts.append(f'<p class="refit">{escape(format_refit(report.refit))}</p>')
    parts += [f'<div class="warning">⚠ {escape(warning)}</div>' for warning in report.warnings]
    parameter_plots = [title for title in figures if title.startswith(PARAMETER_PREFIX)]
    for title, figure in figures.items():
        if title in parameter_plots:
            continue
        parts.append(f"<h2>{escape(title)}</h2>" + _figure_html(figure))
    if parameter_plots:
        parts.append("<h2>each hyperparameter against the objective</h2>")
        for role in ROLE_ORDER:  # grouped by the study file's roles, as the tuning playbook reads a study
            titles = [f"{PARAMETER_PREFIX}{info.name}" for info in report.parameters if info.role == role]
            if titles:
                parts.append(f'<h3>{role}: {escape(ROLE_MEANINGS[role])}</h3><div class="grid">')
                parts += [f"<div>{_figure_html(figures[title])}</div>" for title in titles if title in figures]
                parts.append("</div>")
    if report.images:
        parts.append('<h2>image grids of the top trials</h2><div class="grid">')
        for image in report.images:
            caption = f"trial {image.trial}: {image.name}"
            parts.append(f"<figure>{_image_tag(image.path, caption)}<figcaption>{escape(caption)}</figcaption>"
                         "</figure>")
        parts.append("</div>")
    return _page(f"sweeplab: {report.name}", "\n".join(parts))


def render_index(reports: list[StudyReport]) -> str:
    rows = "".join(f'<tr><td><a href="{_page_name(report.name)}">{html.escape(report.name)}</a></td>'
                   f"<td>{html.escape(report.task)}</td><td>{html.escape(report.objective)} ({report.direction})</td>"
                   f"<td>{_states(report)}</td><td>{_format(report.best_value)}</td>"
                   f"<td><code>{html.escape(report.reproduce)}</code></td></tr>" for report in reports)
    body = ("<h1>sweeplab studies</h1><table><tr><th>study</th><th>task</th><th>objective</th><th>trials</th>"
            f"<th>best value</th><th>reproduce the best trial</th></tr>{rows}</table>")
    return _page("sweeplab studies", body if reports else "<h1>sweeplab studies</h1><p>no studies yet</p>")


def write_report(storage: optuna.storages.BaseStorage, runs_root: Path, out: Path, top: int = 5) -> Path:
    """Write `out/index.html`, one `out/<study>.html` per study and `out/plotly.min.js`; returns the index path."""
    from datasets.ownership import claim

    reports = all_reports(storage, runs_root, top)
    pages = [out / _page_name(report.name) for report in reports]
    for path in [out / PLOTLY_FILE, *pages, out / "index.html"]:
        claim(path)  # a file of the user's there refuses the report before any page is written
    write_plotly_js(out)
    for report in reports:
        study = optuna.load_study(study_name=report.name, storage=storage)
        write_text(out / _page_name(report.name), render_study_page(report, study_figures(study, report)))
    index = out / "index.html"
    write_text(index, render_index(reports))
    return index


def _page_name(study_name: str) -> str:
    """`<study>.html`; a name that is not a safe file name gets a hash suffix, so two names never share a page."""
    return f"{file_stem(study_name)}.html"


def _states(report: StudyReport) -> str:
    counts = ", ".join(f"{count} {state.lower()}" for state, count in sorted(report.states.items()))
    return f"{report.n_trials} ({counts})" if counts else "0"


def _format(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<style>{STYLE}</style><script src="{PLOTLY_FILE}"></script></head><body>{body}</body></html>\n')
