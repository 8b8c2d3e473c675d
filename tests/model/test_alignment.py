"""Tests of core.model.alignment: subword labels, windows, merging, collate, offsets.

Expected labels are written by hand from the tiny tokenizer's pieces (see tests/conftest.py), and each test
first asserts the pieces it relies on, so a change of the fixture shows up as a clear failure.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.model.alignment import (IGNORE_INDEX, Window, b_to_i_from_labels, collate, encode_words,
                            merge_window_predictions, split_text_into_words, word_char_offsets)
from core.kernel.errors import ConfigError, CorpusError

X = IGNORE_INDEX
O, B_PER, I_PER, B_LOC, I_LOC, B_ORG, I_ORG, B_MISC, I_MISC = range(9)
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
B_TO_I = {B_PER: I_PER, B_LOC: I_LOC, B_ORG: I_ORG, B_MISC: I_MISC}


def pieces(tokenizer, window: Window) -> list[str]:
    return tokenizer.convert_ids_to_tokens(window.input_ids)


def fake_predictions(windows: list[Window], per_word: list[int]) -> list[list[int]]:
    """Label ids a perfect model would give: the word's label at every subword, O on special tokens."""
    return [[O if w is None else per_word[w] for w in win.word_ids] for win in windows]


def merge_ids(windows, per_word, n):
    return merge_window_predictions(n, windows, fake_predictions(windows, per_word), id2label=LABELS)


# --------------------------------------------------------------------------------------------------------------
# first-subword labelling
# --------------------------------------------------------------------------------------------------------------

def test_b_to_i_from_labels():
    assert b_to_i_from_labels(LABELS) == B_TO_I
    assert b_to_i_from_labels(dict(enumerate(LABELS))) == B_TO_I
    assert b_to_i_from_labels(["O", "B-X"]) == {}  # no I-X: nothing to map


def test_first_subword_labels_and_special_tokens(tiny_tokenizer):
    tokens = ["Angela", "Merkel", "besuchte", "Madrid"]
    windows = encode_words(tiny_tokenizer, tokens, 64, 0, labels=[B_PER, I_PER, O, B_LOC])
    assert len(windows) == 1
    win = windows[0]
    assert pieces(tiny_tokenizer, win) == ["[CLS]", "A", "##n", "##g", "##e", "##l", "##a", "Mer", "##kel", "b",
                                           "##e", "##s", "##u", "##c", "##h", "##t", "##e", "Madrid", "[SEP]"]
    assert win.word_ids == [None, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, None]
    assert win.labels == [X, B_PER, X, X, X, X, X, I_PER, X, O, X, X, X, X, X, X, X, B_LOC, X]
    assert win.attention_mask == [1] * 19
    assert (win.word_start, win.word_end) == (0, 4)


def test_label_all_tokens_turns_b_into_i_on_continuations(tiny_tokenizer):
    tokens = ["Angela", "Merkel", "besuchte", "Madrid"]
    win, = encode_words(tiny_tokenizer, tokens, 64, 0, labels=[B_PER, I_PER, O, B_LOC], label_all_tokens=True,
                        b_to_i=B_TO_I)
    assert win.labels == [X, B_PER, I_PER, I_PER, I_PER, I_PER, I_PER, I_PER, I_PER, O, O, O, O, O, O, O, O,
                          B_LOC, X]


def test_label_all_tokens_needs_b_to_i(tiny_tokenizer):
    with pytest.raises(ConfigError, match=r"\[E202\] .*label_all_tokens=True needs b_to_i"):
        encode_words(tiny_tokenizer, ["Merkel"], 16, 0, labels=[B_PER], label_all_tokens=True)


def test_ignored_word_label_stays_ignored(tiny_tokenizer):
    win, = encode_words(tiny_tokenizer, ["Merkel", "Madrid"], 16, 0, labels=[X, B_LOC])
    assert win.labels == [X, X, X, B_LOC, X]


# --------------------------------------------------------------------------------------------------------------
# words without subwords
# --------------------------------------------------------------------------------------------------------------

def test_words_without_subwords_do_not_shift_labels(tiny_tokenizer):
    tokens = ["Obama", "\u200b", "besuchte", "", "\u00ad", " ", "New", "York", "\x07", "Madrid"]
    labels = [B_PER, O, O, O, O, O, B_LOC, I_LOC, O, B_LOC]
    win, = encode_words(tiny_tokenizer, tokens, 64, 0, labels=labels)
    assert pieces(tiny_tokenizer, win) == ["[CLS]", "Obama", "b", "##e", "##s", "##u", "##c", "##h", "##t", "##e",
                                           "New", "York", "Madrid", "[SEP]"]
    # words 1, 3, 4, 5 and 8 have no subword: word_ids skips them, the others keep their own index and label
    assert win.word_ids == [None, 0, 2, 2, 2, 2, 2, 2, 2, 2, 6, 7, 9, None]
    assert win.labels == [X, B_PER, O, X, X, X, X, X, X, X, B_LOC, I_LOC, B_LOC, X]
    assert (win.word_start, win.word_end) == (0, 10)


@pytest.mark.parametrize("per_word, expected", [
    # a zero-width word inside one entity continues it
    ([B_LOC, None, I_LOC, B_LOC, None, B_LOC], [B_LOC, I_LOC, I_LOC, B_LOC, O, B_LOC]),
    # between two entities (B- after the gap) it is O
    ([B_LOC, None, B_LOC, O, None, O], [B_LOC, O, B_LOC, O, O, O]),
    # different types on both sides: O
    ([B_PER, None, I_LOC, O, None, B_ORG], [B_PER, O, I_LOC, O, O, B_ORG]),
])
def test_no_subword_rule_at_prediction(tiny_tokenizer, per_word, expected):
    tokens = ["New", "\u200b", "York", "Obama", "", "Madrid"]
    windows = encode_words(tiny_tokenizer, tokens, 64, 0)
    assert windows[0].word_ids == [None, 0, 2, 3, 5, None]
    assert merge_ids(windows, [O if p is None else p for p in per_word], len(tokens)) == expected


def test_no_subword_words_at_the_edges_and_in_runs(tiny_tokenizer):
    tokens = ["\u200b", "", "New", " ", "\u00ad", "", "York", "\x07"]
    windows = encode_words(tiny_tokenizer, tokens, 64, 0)
    merged = merge_ids(windows, [O, O, B_LOC, O, O, O, I_LOC, O], len(tokens))
    assert merged == [O, O, B_LOC, I_LOC, I_LOC, I_LOC, I_LOC, O]


def test_sentence_of_words_without_subwords(tiny_tokenizer):
    tokens = ["\u200b", "", " "]
    windows = encode_words(tiny_tokenizer, tokens, 16, 0)
    assert len(windows) == 1 and pieces(tiny_tokenizer, windows[0]) == ["[CLS]", "[SEP]"]
    assert (windows[0].word_start, windows[0].word_end) == (0, 3)
    assert merge_window_predictions(3, windows, [[O, O]], id2label=LABELS) == [O, O, O]
    # in training such a sentence has nothing to learn from: no window (an all -100 batch gives a NaN loss)
    assert encode_words(tiny_tokenizer, tokens, 16, 0, labels=[O, O, O]) == []


def test_empty_sentence(tiny_tokenizer):
    assert encode_words(tiny_tokenizer, [], 16, 0) == []
    assert merge_window_predictions(0, [], []) == []


# --------------------------------------------------------------------------------------------------------------
# windows
# --------------------------------------------------------------------------------------------------------------

def test_windows_overlap_by_stride_and_own_the_words_with_most_context(tiny_tokenizer):
    tokens = ["in", "Madrid", "New", "York", "Obama", "Mer", "in", "Madrid", "New", "York"]  # one subword each
    labels = [O, B_LOC, B_LOC, I_LOC, B_PER, O, O, B_LOC, B_LOC, I_LOC]
    windows = encode_words(tiny_tokenizer, tokens, 6, 2)  # 4 subwords per window besides [CLS] [SEP]
    assert [w.word_ids[1:-1] for w in windows] == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]
    # word 2 has context 1 on each side in window 0 (min 1) and 0 on the left in window 1 (min 0): window 0
    assert [(w.word_start, w.word_end) for w in windows] == [(0, 3), (3, 5), (5, 7), (7, 10)]
    train = encode_words(tiny_tokenizer, tokens, 6, 2, labels=labels)
    assert [w.labels for w in train] == [[X, O, B_LOC, B_LOC, X, X], [X, X, I_LOC, B_PER, X, X],
                                         [X, X, O, O, X, X], [X, X, B_LOC, B_LOC, I_LOC, X]]
    assert merge_ids(windows, labels, len(tokens)) == labels


def test_merge_prefers_the_window_with_most_context(tiny_tokenizer):
    tokens = ["in", "Madrid", "New", "York", "Obama", "Mer"]
    windows = encode_words(tiny_tokenizer, tokens, 6, 2)
    assert [w.word_ids[1:-1] for w in windows] == [[0, 1, 2, 3], [2, 3, 4, 5]]
    # window 0 says B-LOC everywhere, window 1 says B-PER everywhere
    preds = [[B_LOC] * 6, [B_PER] * 6]
    # word 2: min context 1 in window 0, 0 in window 1; word 3: 0 in window 0, 1 in window 1
    assert merge_window_predictions(6, windows, preds) == [B_LOC, B_LOC, B_LOC, B_PER, B_PER, B_PER]


def test_words_are_never_split_across_windows(tiny_tokenizer):
    tokens = ["Obama", "Merkel", "Madrid", "Merkel", "New"]  # 1, 2, 1, 2, 1 subwords
    # 3 subwords per window; with stride 1 no two-subword word fits in the overlap
    windows = encode_words(tiny_tokenizer, tokens, 5, 1)
    assert [w.word_ids[1:-1] for w in windows] == [[0, 1, 1], [2, 3, 3], [4]]
    assert [(w.word_start, w.word_end) for w in windows] == [(0, 2), (2, 4), (4, 5)]
    windows = encode_words(tiny_tokenizer, tokens, 5, 2)
    assert [w.word_ids[1:-1] for w in windows] == [[0, 1, 1], [1, 1, 2], [2, 3, 3], [3, 3, 4]]
    # every overlapping word has min context 0 in both windows: ties go to the earlier window
    assert [(w.word_start, w.word_end) for w in windows] == [(0, 2), (2, 3), (3, 4), (4, 5)]


def test_word_longer_than_a_window_is_truncated_keeping_its_first_subword(tiny_tokenizer):
    tokens = ["in", "Honolulu", "Madrid"]  # Honolulu: H ##o ##n ##o ##l ##u ##l ##u (8 subwords)
    windows = encode_words(tiny_tokenizer, tokens, 6, 0, labels=[O, B_LOC, B_LOC])
    assert [pieces(tiny_tokenizer, w) for w in windows] == [["[CLS]", "in", "[SEP]"],
                                                           ["[CLS]", "H", "##o", "##n", "##o", "[SEP]"],
                                                           ["[CLS]", "Madrid", "[SEP]"]]
    assert [w.labels for w in windows] == [[X, O, X], [X, B_LOC, X, X, X, X], [X, B_LOC, X]]


@pytest.mark.parametrize("kwargs, message", [
    ({"max_seq_length": 2, "stride": 0}, r"\[E202\] max_seq_length = 2 leaves no room"),
    ({"max_seq_length": 10, "stride": 8}, r"\[E202\] stride = 8 must be an integer in \[0, 7\]"),
    ({"max_seq_length": 10, "stride": -1}, r"\[E202\] stride = -1"),
    ({"max_seq_length": 10, "stride": 0, "labels": [O]}, r"\[E202\] 1 labels for 2 tokens"),
    ({"max_seq_length": 10, "stride": 0, "labels": [O, "B-LOC"]}, r"\[E202\] labels must be label ids"),
])
def test_bad_arguments(tiny_tokenizer, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        encode_words(tiny_tokenizer, ["New", "York"], **kwargs)


def test_tokens_must_be_a_list_of_strings(tiny_tokenizer):
    with pytest.raises(ConfigError, match=r"\[E202\] tokens must be a list of strings"):
        encode_words(tiny_tokenizer, "New York", 16, 0)


# --------------------------------------------------------------------------------------------------------------
# property test
# --------------------------------------------------------------------------------------------------------------

WORDS = ["Madrid", "New", "York", "Obama", "Merkel", "besuchte", "Angela", "北", "京", "猫", ".", "in", "a",
         "Санкт-Петербург", "Honolulu" * 3,  # 24 subwords: longer than a 16-id window, truncated
         "", "\u200b", "\u00ad", " ", "\x07", "\u200bMadrid", "Mad\u00adrid"]
ALPHABET = list("aMdrN北京 Жé-") + ["\u200b", "\u00ad"]


def random_sentence(n_words: int, seed: int) -> list[str]:
    """``n_words`` words: half from WORDS (incl. empty and zero-width ones), half random strings of 0-12 chars.

    Drawn from a seeded generator rather than a hypothesis list strategy: hypothesis rejects most 400-word
    lists of text as too large, which would leave long sentences untested.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_words):
        if rng.random() < 0.5:
            out.append(WORDS[rng.integers(len(WORDS))])
        else:
            out.append("".join(ALPHABET[i] for i in rng.integers(len(ALPHABET), size=rng.integers(0, 13))))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_words=st.integers(1, 400), seed=st.integers(0, 2**32 - 1), max_seq_length=st.sampled_from([16, 32, 64]),
       stride=st.sampled_from([0, 4, 8]), label_all_tokens=st.booleans())
def test_property_one_tag_per_word(tiny_tokenizer, n_words, seed, max_seq_length, stride, label_all_tokens):
    tokens = random_sentence(n_words, seed)
    n = len(tokens)
    capacity = max_seq_length - 2
    gold = np.random.default_rng(seed + 1).integers(0, len(LABELS), n).tolist()
    whole = tiny_tokenizer(tokens, is_split_into_words=True, add_special_tokens=False)
    n_pieces = [0] * n
    for w in whole.word_ids():
        n_pieces[w] += 1
    has_subword = [c > 0 for c in n_pieces]

    windows = encode_words(tiny_tokenizer, tokens, max_seq_length, stride)
    assert windows, "a non-empty sentence always gives a window at prediction"
    event("windows: " + ("1" if len(windows) == 1 else "2-9" if len(windows) < 10 else "10+"))
    event("words: " + ("1-99" if n < 100 else "100-400"))
    # windows: bounded, special tokens at both ends, word ranges partition the sentence
    assert all(len(w) <= max_seq_length for w in windows)
    assert all(w.word_ids[0] is None and w.word_ids[-1] is None for w in windows)
    assert windows[0].word_start == 0 and windows[-1].word_end == n
    assert all(a.word_end == b.word_start for a, b in zip(windows, windows[1:]))
    covered = set()
    for a, b in zip(windows, windows[1:]):
        overlap = {w for w in a.word_ids if w is not None} & {w for w in b.word_ids if w is not None}
        assert sum(min(n_pieces[w], capacity) for w in overlap) <= stride
    for win in windows:
        in_window = [w for w in win.word_ids if w is not None]
        covered.update(in_window)
        for w in set(in_window):  # a word's subwords are never split across windows (long words truncated)
            assert in_window.count(w) == min(n_pieces[w], capacity)
    assert covered == {w for w in range(n) if has_subword[w]}

    # merge: exactly one tag per word; a perfect model's tags come back on every word with a subword
    merged = merge_window_predictions(n, windows, fake_predictions(windows, gold), id2label=LABELS)
    assert len(merged) == n
    for w in range(n):
        if has_subword[w]:
            assert merged[w] == gold[w]
        else:
            assert LABELS[merged[w]] == "O" or LABELS[merged[w]].startswith("I-")
    # the window scoring each word is the one that owns it
    for win in windows:
        for w in range(win.word_start, win.word_end):
            assert not has_subword[w] or w in win.word_ids

    # training: every word with a subword is labelled exactly once, on its first subword, with its label
    train = encode_words(tiny_tokenizer, tokens, max_seq_length, stride, labels=gold,
                         label_all_tokens=label_all_tokens, b_to_i=B_TO_I)
    seen: dict[int, int] = {}
    for win in train:
        assert len(win.labels) == len(win.input_ids)
        assert any(x != X for x in win.labels)
        prev = None
        for pos, (w, lab) in enumerate(zip(win.word_ids, win.labels)):
            if w is None:
                assert lab == X
            elif w != prev and lab != X:  # first subword of a word
                assert w not in seen
                seen[w] = lab
            elif w == prev and lab != X:
                assert label_all_tokens and lab == B_TO_I.get(seen.get(w, -1), seen.get(w))
            prev = w
    assert seen == {w: gold[w] for w in range(n) if has_subword[w]}


# --------------------------------------------------------------------------------------------------------------
# a long Chinese sentence through the tiny model
# --------------------------------------------------------------------------------------------------------------

def test_long_chinese_sentence_predicted_whole(tiny_model_dir, tiny_tokenizer):
    import torch
    from transformers import AutoModelForTokenClassification

    text = ("北京是中国的首都上海是最大的城市习近平在北京会见了联合国秘书长东京和大阪猫狗" * 100)[:2400]
    tokens = list(text)  # one character per word
    assert len(tokens) == 2400
    windows = encode_words(tiny_tokenizer, tokens, 128, 16)
    assert len(windows) > 1
    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir)
    model.eval()
    logits = []
    with torch.inference_mode():
        for i in range(0, len(windows), 8):
            batch = collate(windows[i:i + 8], tiny_tokenizer.pad_token_id, pad_to_multiple_of=8)
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logits.extend(out)  # [seq, num_labels] each, padded
    merged = merge_window_predictions(len(tokens), windows, logits, id2label=model.config.id2label)
    assert len(merged) == 2400
    assert all(0 <= t < model.config.num_labels for t in merged)
    # the same answer from label ids instead of logits
    ids = [lg.argmax(-1) for lg in logits]
    assert merge_window_predictions(len(tokens), windows, ids, id2label=model.config.id2label) == merged


# --------------------------------------------------------------------------------------------------------------
# collate
# --------------------------------------------------------------------------------------------------------------

def test_collate_pads_labels_with_ignore_index(tiny_tokenizer):
    a = encode_words(tiny_tokenizer, ["Angela", "Merkel"], 64, 0, labels=[B_PER, I_PER])[0]
    b = encode_words(tiny_tokenizer, ["Madrid"], 64, 0, labels=[B_LOC])[0]
    batch = collate([a, b], tiny_tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (2, len(a))
    assert str(batch["labels"].dtype) == "torch.int64" and str(batch["input_ids"].dtype) == "torch.int64"
    assert batch["labels"][1].tolist() == [X, B_LOC, X] + [X] * (len(a) - 3)  # padding is -100, never O
    assert batch["attention_mask"][1].tolist() == [1, 1, 1] + [0] * (len(a) - 3)
    assert batch["input_ids"][1, 3:].tolist() == [tiny_tokenizer.pad_token_id] * (len(a) - 3)
    padded = collate([a, b], tiny_tokenizer.pad_token_id, pad_to_multiple_of=8)
    assert padded["input_ids"].shape[1] % 8 == 0 and padded["input_ids"].shape[1] >= len(a)
    assert (padded["labels"][:, len(a):] == X).all()


def test_collate_without_labels_and_mixed_batches(tiny_tokenizer):
    pred = encode_words(tiny_tokenizer, ["Madrid"], 16, 0)
    assert "labels" not in collate(pred, tiny_tokenizer.pad_token_id)
    train = encode_words(tiny_tokenizer, ["Madrid"], 16, 0, labels=[B_LOC])
    with pytest.raises(ConfigError, match=r"\[E202\] a batch mixes windows with and without labels"):
        collate(pred + train, tiny_tokenizer.pad_token_id)
    with pytest.raises(ConfigError, match=r"\[E202\] collate\(\) got an empty batch"):
        collate([], 0)
    # mappings (a datasets.Dataset row) are accepted too
    row = {"input_ids": [2, 7, 3], "labels": [X, O, X]}
    assert collate([row], 0)["attention_mask"].tolist() == [[1, 1, 1]]


def test_merge_returns_scores_of_the_chosen_labels(tiny_tokenizer):
    tokens = ["New", "\u200b", "York", "", "Madrid"]
    windows = encode_words(tiny_tokenizer, tokens, 16, 0)
    assert windows[0].word_ids == [None, 0, 2, 4, None]
    probs = np.full((5, len(LABELS)), 0.01, dtype=np.float32)
    probs[1, B_LOC], probs[2, I_LOC], probs[3, B_LOC] = 0.9, 0.6, 0.8
    ids, scores = merge_window_predictions(len(tokens), windows, [probs], id2label=LABELS, return_scores=True)
    assert ids == [B_LOC, I_LOC, I_LOC, O, B_LOC]
    # word 1 continues the entity: min of its neighbours; word 3 is O by rule: 1.0
    assert scores == pytest.approx([0.9, 0.6, 0.6, 1.0, 0.8])


def test_merge_checks_its_inputs(tiny_tokenizer):
    windows = encode_words(tiny_tokenizer, ["New", "York"], 16, 0)
    with pytest.raises(ConfigError, match=r"\[E202\] 2 predictions for 1 windows"):
        merge_window_predictions(2, windows, [[0] * 4, [0] * 4])
    with pytest.raises(ConfigError, match=r"\[E202\] window 0 refers to word 1 but the sentence has 1 words"):
        merge_window_predictions(1, windows, [[0] * 4])
    with pytest.raises(ConfigError, match=r"\[E202\] prediction 0 has 3 positions"):
        merge_window_predictions(2, windows, [[0] * 3])


# --------------------------------------------------------------------------------------------------------------
# character offsets
# --------------------------------------------------------------------------------------------------------------

def test_word_char_offsets():
    text = "New York, New  York\u200b!"
    tokens = ["New", "York", ",", "New", "", "York\u200b", "!"]
    assert word_char_offsets(text, tokens) == [(0, 3), (4, 8), (8, 9), (10, 13), (13, 13), (15, 20), (20, 21)]
    with pytest.raises(CorpusError, match=r"\[E110\] token 1 \('Paris'\) does not occur"):
        word_char_offsets(text, ["New", "Paris"])


def test_split_text_into_words():
    tokens, offsets = split_text_into_words("Angela Merkel besuchte 北京.")
    assert tokens == ["Angela", "Merkel", "besuchte", "北", "京", "."]
    assert offsets == [(0, 6), (7, 13), (14, 22), (23, 24), (24, 25), (25, 26)]
