"""Plotly figures from plain data (no store, no Streamlit): every chart the pages show comes from here.

Inputs are lists of ``(step, value)`` points or the dicts :mod:`core.eval.metrics` and :mod:`core.data.validate` return,
so each figure is testable by looking at its traces.
"""

from __future__ import annotations

from typing import Mapping, Sequence

Points = Sequence[tuple[float, float]]


def ema(values: Sequence[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing), same length as ``values``."""
    out: list[float] = []
    avg = 0.0
    for i, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** i))
    return out


def _layout(fig, title: str, ytitle: str, yrange: tuple | None = None):
    fig.update_layout(title=title, xaxis_title="step", yaxis_title=ytitle, height=320,
                      margin=dict(l=40, r=10, t=40, b=35), legend=dict(orientation="h", y=-0.25))
    if yrange:
        fig.update_yaxes(range=list(yrange))
    return fig


def loss_figure(train_loss: Points, eval_loss: Points = (), smoothing: float = 0.8):
    """Train loss raw and smoothed (EMA) plus eval loss when present."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if train_loss:
        xs, ys = zip(*train_loss)
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines", name="train loss",
                                 line=dict(color="rgba(31,119,180,0.35)")))
        fig.add_trace(go.Scatter(x=list(xs), y=ema(ys, smoothing), mode="lines", name="train loss (smoothed)",
                                 line=dict(color="rgb(31,119,180)", width=2)))
    if eval_loss:
        xs, ys = zip(*eval_loss)
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines+markers", name="eval loss"))
    return _layout(fig, "Loss", "loss")


def f1_figure(overall: Points, per_language: Mapping[str, Points]):
    """Dev entity F1 overall (thick) and per language."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if overall:
        xs, ys = zip(*overall)
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines+markers", name="all languages",
                                 line=dict(width=3, color="black")))
    for lang in sorted(per_language):
        pts = per_language[lang]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines+markers", name=lang))
    fig = _layout(fig, "Dev entity F1 (strict)", "F1", (0, 1))
    if len(fig.data) > 3:  # a legend of several rows under a half-width chart covers the axis title: right side
        fig.update_layout(legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top"))
    return fig


def line_figure(series: Mapping[str, Points], title: str, ytitle: str):
    """One line per named series (learning rate, sentences/s, or one run per line when comparing runs)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, pts in series.items():
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines", name=name))
    return _layout(fig, title, ytitle)


def confusion_figure(rows: Sequence[str], cols: Sequence[str], matrix: Sequence[Sequence[int]],
                     normalize: bool = False, title: str = "", xtitle: str = "predicted", ytitle: str = "gold"):
    """Heatmap of a confusion matrix; ``normalize`` divides each row by its sum (recall per gold label).

    Cell text shows counts (or fractions); ``customdata`` keeps the raw counts so a click handler can map a cell
    back to ``(gold, predicted)``.
    """
    import plotly.graph_objects as go

    z: list[list[float]] = []
    for row in matrix:
        total = sum(row)
        z.append([(v / total if total else 0.0) for v in row] if normalize else [float(v) for v in row])
    text = [[(f"{v:.2f}" if normalize else f"{int(v)}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=list(cols), y=list(rows), text=text, texttemplate="%{text}",
                               customdata=[list(r) for r in matrix], colorscale="Blues",
                               hovertemplate="gold %{y}<br>predicted %{x}<br>count %{customdata}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=xtitle, yaxis_title=ytitle, height=120 + 28 * len(rows),
                      margin=dict(l=60, r=10, t=40, b=40))
    fig.update_yaxes(autorange="reversed")
    return fig


def scores_heatmap(per_language_type: Mapping[str, Mapping[str, dict]], metric: str = "f1"):
    """Language x type heatmap of ``metric`` (precision, recall or f1); n/a cells are blank and say n/a."""
    import plotly.graph_objects as go

    langs = sorted(per_language_type)
    types = sorted({t for v in per_language_type.values() for t in v})
    z = [[per_language_type[lang].get(t, {}).get(metric) for t in types] for lang in langs]
    text = [["n/a" if v is None else f"{v:.2f}" for v in row] for row in z]
    support = [[per_language_type[lang].get(t, {}).get("support", 0) for t in types] for lang in langs]
    fig = go.Figure(go.Heatmap(z=z, x=types, y=langs, text=text, texttemplate="%{text}", zmin=0, zmax=1,
                               colorscale="RdYlGn", customdata=support,
                               hovertemplate="%{y} %{x}<br>" + metric + " %{text}<br>support %{customdata}"
                                             "<extra></extra>"))
    fig.update_layout(title=f"{metric} per language and type", height=120 + 30 * len(langs),
                      margin=dict(l=50, r=10, t=40, b=40))
    return fig


def entity_counts_figure(per_language: Mapping[str, dict]):
    """Stacked bars: entities per type for each language (from :func:`core.data.validate.corpus_stats`)."""
    import plotly.graph_objects as go

    langs = list(per_language)
    types = sorted({t for v in per_language.values() for t in v.get("types", {})})
    fig = go.Figure()
    for t in types:
        fig.add_trace(go.Bar(name=t, x=langs, y=[per_language[lang].get("types", {}).get(t, 0) for lang in langs]))
    fig.update_layout(barmode="stack", title="Entities per type and language", height=320,
                      margin=dict(l=40, r=10, t=40, b=35), xaxis_title="language", yaxis_title="entities")
    return fig


def length_histogram(lengths: Sequence[int], window_tokens: int | None = None):
    """Histogram of sentence lengths in tokens, with the model window marked when given."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Histogram(x=list(lengths), nbinsx=40, name="sentences"))
    if window_tokens:
        fig.add_vline(x=window_tokens, line_dash="dash", annotation_text="model window (approx.)")
    fig.update_layout(title="Sentence length (tokens)", height=280, margin=dict(l=40, r=10, t=40, b=35),
                      xaxis_title="tokens", yaxis_title="sentences")
    return fig


def error_kinds_figure(error_counts: Mapping[str, Mapping[str, int]]):
    """Grouped bars: error kinds (missed, spurious, wrong type, ...) per language."""
    import plotly.graph_objects as go

    from core.eval.metrics import ERROR_KINDS

    langs = sorted(error_counts)
    fig = go.Figure()
    for kind in ERROR_KINDS:
        fig.add_trace(go.Bar(name=kind, x=langs, y=[error_counts[lang].get(kind, 0) for lang in langs]))
    fig.update_layout(barmode="group", title="Errors per language", height=300,
                      margin=dict(l=40, r=10, t=40, b=35))
    return fig


def selectable_confusion_figure(rows: Sequence[str], cols: Sequence[str], matrix: Sequence[Sequence[int]],
                                normalize: bool = False, title: str = ""):
    """:func:`confusion_figure` plus one invisible marker per cell, so that a click selects a cell.

    Plotly heatmaps emit no selection events in Streamlit (streamlit/streamlit#8760); scatter markers do. The
    second trace (``name="cells"``) has a marker at every ``(predicted, gold)`` cell centre whose
    ``customdata`` is ``[gold, predicted, count]``; a selection event's point ``x`` / ``y`` are the predicted and
    gold labels.
    """
    import plotly.graph_objects as go

    fig = confusion_figure(rows, cols, matrix, normalize=normalize, title=title)
    xs, ys, data = [], [], []
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            xs.append(c)
            ys.append(r)
            data.append([r, c, int(matrix[i][j])])
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="cells", customdata=data, showlegend=False,
                             marker=dict(size=22, symbol="square", opacity=0.0),
                             hovertemplate="gold %{customdata[0]}<br>predicted %{customdata[1]}<br>"
                                           "count %{customdata[2]}<extra></extra>"))
    fig.update_layout(clickmode="event+select")
    return fig


def per_language_f1_figure(runs: Mapping[str, Mapping[str, float | None]], title: str = "F1 per language"):
    """Grouped bars: one bar group per language, one bar per run (n/a languages are left out of that run)."""
    import plotly.graph_objects as go

    langs = sorted({lang for v in runs.values() for lang in v})
    fig = go.Figure()
    for name, scores in runs.items():
        fig.add_trace(go.Bar(name=name, x=langs, y=[scores.get(lang) for lang in langs]))
    fig.update_layout(barmode="group", title=title, height=320, margin=dict(l=40, r=10, t=40, b=35),
                      xaxis_title="language", yaxis_title="F1", legend=dict(orientation="h", y=-0.25))
    fig.update_yaxes(range=[0, 1])
    return fig


def transfer_heatmap(matrix: Mapping[str, Mapping[str, float | None]], rows: Sequence[str] | None = None,
                     cols: Sequence[str] | None = None, title: str = "Cross-lingual transfer (entity F1, test)"):
    """Training language (rows) x test language (columns) heatmap of entity F1 (fractions); a null cell (no test
    data in that language, or no training data for the row) is blank and says n/a."""
    import plotly.graph_objects as go

    rows = list(rows or matrix)
    cols = list(cols or sorted({c for r in matrix.values() for c in r}))
    z = [[(matrix.get(r) or {}).get(c) for c in cols] for r in rows]
    text = [["n/a" if v is None else f"{v:.2f}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=cols, y=rows, text=text, texttemplate="%{text}", zmin=0, zmax=1,
                               colorscale="RdYlGn", hovertemplate="trained on %{y}, tested on %{x}<br>F1 %{text}"
                                                                  "<extra></extra>"))
    fig.update_layout(title=title, height=140 + 32 * len(rows), margin=dict(l=50, r=10, t=40, b=40),
                      xaxis_title="test language", yaxis_title="training language")
    return fig


def perplexity_figure(perplexity: Points, title: str = "Masked-LM perplexity"):
    """Perplexity (exp of the masked-LM loss) of continued pre-training over steps, on a log y axis (it falls by
    orders of magnitude while a new masked-LM head is fitted)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if perplexity:
        xs, ys = zip(*perplexity)
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines+markers", name="perplexity"))
    fig = _layout(fig, title, "perplexity (log)")
    fig.update_yaxes(type="log")
    return fig


def method_comparison_figure(means: Mapping[str, Mapping[str, float | None]],
                             stds: Mapping[str, Mapping[str, float | None]] | None = None,
                             title: str = "Entity F1 per language and method"):
    """Grouped bars: one group per language, one bar per method at its mean F1, with an error bar of its standard
    deviation over seeds where there is one (none for a single run; a language a method was not scored on is
    left out of that method).

    Args:
        means: method -> language -> mean F1 (fractions), methods in legend order.
        stds: method -> language -> standard deviation (None or absent: no error bar).
        title: the figure's title.
    """
    import plotly.graph_objects as go

    stds = stds or {}
    langs: list[str] = []
    for per in means.values():
        langs += [lang for lang in per if lang not in langs]
    fig = go.Figure()
    for method, per in means.items():
        sd = [(stds.get(method) or {}).get(lang) for lang in langs]
        fig.add_trace(go.Bar(name=method, x=langs, y=[per.get(lang) for lang in langs],
                             error_y=dict(type="data", array=[0.0 if s is None else s for s in sd],
                                          visible=any(s is not None for s in sd))))
    fig.update_layout(barmode="group", title=title, height=340, margin=dict(l=40, r=10, t=40, b=35),
                      xaxis_title="language", yaxis_title="F1", legend=dict(orientation="h", y=-0.25))
    fig.update_yaxes(range=[0, 1])
    return fig
