"""HTML highlighting escapes corpus text; figures carry the data they were given."""

from core.ui.plots import confusion_figure, ema, f1_figure, loss_figure, method_comparison_figure, scores_heatmap
from core.ui.render import render_comparison, render_doc, render_tokens, tokens_to_doc

XSS = "<img src=x onerror=alert(1)>"


def test_tokens_to_doc_offsets():
    doc = tokens_to_doc(["Angela", "Merkel", "in", "Berlin"], ["B-PER", "I-PER", "O", "B-LOC"])
    assert doc["text"] == "Angela Merkel in Berlin"
    assert doc["ents"] == [{"start": 0, "end": 13, "label": "PER"}, {"start": 17, "end": 23, "label": "LOC"}]


def test_untrusted_tokens_and_labels_are_escaped():
    out = render_tokens([XSS, "visited", "Paris"], ["B-PER", "O", "B-<b>LOC"])
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "<b>" not in out and "&lt;b&gt;LOC" in out


def test_render_doc_with_score_and_rtl():
    out = render_doc({"text": "زار أحمد القاهرة", "ents": [{"start": 4, "end": 8, "label": "PER", "score": 0.91}]},
                     rtl=True)
    assert 'dir="rtl"' in out and "أحمد" in out and "0.91" in out


def test_comparison_marks_errors():
    out = render_comparison(["a", "b", "c"], ["B-PER", "O", "B-LOC"], ["B-ORG", "O", "O"])
    assert "err-type" in out and "err-missed" in out


def test_ema_bias_corrected():
    assert ema([2.0, 2.0, 2.0]) == [2.0, 2.0, 2.0]


def test_loss_and_f1_figures_hold_points():
    fig = loss_figure([(1, 2.0), (2, 1.0)], [(2, 1.5)])
    assert list(fig.data[0].y) == [2.0, 1.0]
    assert list(fig.data[2].x) == [2]
    fig = f1_figure([(10, 0.5)], {"es": [(10, 0.6)], "nl": [(10, 0.4)]})
    assert [t.name for t in fig.data] == ["all languages", "es", "nl"]


def test_confusion_normalized_rows():
    fig = confusion_figure(["PER", "LOC"], ["PER", "LOC"], [[3, 1], [0, 0]], normalize=True)
    assert fig.data[0].z[0] == (0.75, 0.25) or list(fig.data[0].z[0]) == [0.75, 0.25]
    assert list(fig.data[0].z[1]) == [0.0, 0.0]


def test_scores_heatmap_na_cells():
    fig = scores_heatmap({"es": {"PER": {"f1": 0.5, "support": 2}, "LOC": {"f1": None, "support": 0}}})
    assert list(fig.data[0].x) == ["LOC", "PER"]
    assert list(fig.data[0].text[0]) == ["n/a", "0.50"]


def test_method_comparison_figure_groups_bars_with_error_bars_where_there_is_a_spread():
    fig = method_comparison_figure(
        {"shared fine-tune": {"en": 0.5, "sw": 0.3}, "per-language adapters": {"sw": 0.6}},
        {"shared fine-tune": {"en": 0.1414, "sw": None}, "per-language adapters": {"sw": None}})
    assert fig.layout.barmode == "group" and [t.name for t in fig.data] == ["shared fine-tune", "per-language adapters"]
    shared, adapters = fig.data
    assert list(shared.x) == ["en", "sw"] and list(shared.y) == [0.5, 0.3]
    assert list(shared.error_y.array) == [0.1414, 0.0] and shared.error_y.visible
    assert list(adapters.y) == [None, 0.6] and adapters.error_y.visible is False
    assert method_comparison_figure({"shared fine-tune": {"en": 0.5}}).data[0].error_y.visible is False


def test_md_escape_shows_user_text_as_typed():
    from core.ui.render import md_escape

    assert md_escape("**bold** [a](javascript:x) my_data:es") == (
        r"\*\*bold\*\* \[a\]\(javascript\:x\) my\_data\:es")
    assert md_escape("plain text 123") == "plain text 123"
