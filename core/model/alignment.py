"""Word <-> subword alignment: sentences of words into model windows, window predictions back to words.

The studio's sentences are lists of words (``tokens``) with one IOB2 tag each (``ner_tags``); models see
subwords. This module owns the mapping in both directions and guarantees the properties whose absence causes the
classic token-classification bugs:

* **One tag per word, always.** :func:`merge_window_predictions` returns exactly ``n_words`` label ids, whatever
  the windows, including words that produce no subword.
* **First-subword labelling** (transformers' ``run_ner.py`` ``tokenize_and_align_labels``): a word's label sits on
  its first subword; continuation subwords and special tokens get ``-100`` (ignored by
  ``torch.nn.CrossEntropyLoss``), unless ``label_all_tokens`` (continuations then get the label, with ``B-X``
  turned into ``I-X`` through ``b_to_i`` so that no word gets two entity starts).
* **Words without subwords** neither vanish nor shift their neighbours. A fast tokenizer gives no subword at all
  for an empty string, a space, U+200B, U+00AD (BERT) or a control character, and ``word_ids()`` then simply
  skips that word index (docs/PITFALLS.md). Labels are always placed through ``word_ids()``, never by counting, so
  the following words keep their own labels; such a word is unlabelled in training and gets its tag at
  prediction by the **no-subword rule**:

      A word with no subword takes ``I-X`` when the nearest words on both sides that do have subwords are
      predicted as one entity of type ``X`` running through it (left ``B-X`` or ``I-X``, right ``I-X``);
      otherwise it takes ``O``. A run of several such words is handled as one gap.

  So ``New<U+200B>York`` tagged ``B-LOC ? I-LOC`` gives ``B-LOC I-LOC I-LOC`` (the entity is not cut), while
  ``Paris ? Berlin`` tagged ``B-LOC ? B-LOC`` gives ``O`` in the gap (two entities stay two).
* **Long sentences are windowed, never truncated** (W108). The subwords of a sentence are cut into windows of at
  most ``max_seq_length`` ids including special tokens; windows start and end on word boundaries (a word's
  subwords are never split across windows, except a single word longer than a window, whose extra subwords are
  dropped, its first one kept); consecutive windows overlap by whole words totalling at most ``stride``
  subwords.
* **Each word is scored by one window: the one where it has most context.** A word covered by several windows
  is scored by the window where ``min(subwords before it, subwords after it)`` within the window's content is
  largest, ties to the earliest window (the "max context" rule of BERT's SQuAD doc-stride code,
  ``_check_is_max_context``). Windows therefore own contiguous word ranges (``word_start``/``word_end``); in
  training only owned words are labelled, so every word counts once in the loss and never from a window edge.
* **Padding is never labelled ``O``**: :func:`collate` pads labels with ``-100``.

torch is imported lazily (only :func:`collate` needs it); the tokenizer is any transformers *fast* tokenizer,
loaded with :func:`core.model.tokenization.load_tokenizer` (which sets ``add_prefix_space`` for byte-level BPE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from core.kernel.errors import ConfigError, CorpusError, StudioError

IGNORE_INDEX = -100
"""Label of positions without a loss (special tokens, continuation subwords, padding, context-only words)."""


@dataclass
class Window:
    """One model input cut from one sentence.

    Attributes:
        input_ids: token ids, special tokens included; ``len <= max_seq_length``.
        attention_mask: 1 for every position (padding is added by :func:`collate`).
        labels: one label id per position: the word's label on the first subword of each word this window
            owns, ``-100`` elsewhere (special tokens, continuation subwords unless ``label_all_tokens``,
            words owned by another window); None when no labels were given (prediction).
        word_ids: per position, the index of the word in the sentence's ``tokens`` (not in the window), or
            None for special tokens.
        word_start: first word index this window owns (scores).
        word_end: one past the last word index it owns. The ``[word_start, word_end)`` ranges of a sentence's
            windows partition ``range(len(tokens))``; words without subwords belong to the range they fall in.
    """

    input_ids: list[int]
    attention_mask: list[int]
    labels: list[int] | None
    word_ids: list[int | None]
    word_start: int
    word_end: int

    def __len__(self) -> int:
        return len(self.input_ids)


def b_to_i_from_labels(id2label: Mapping[int, str] | Sequence[str]) -> dict[int, int]:
    """``B-X`` id -> ``I-X`` id for every type that has both (for ``label_all_tokens``).

    Args:
        id2label: id -> IOB2 label, as a dict or a list indexed by id.
    """
    items = id2label.items() if isinstance(id2label, Mapping) else enumerate(id2label)
    label2id = {label: int(i) for i, label in items}
    return {i: label2id["I-" + label[2:]] for label, i in label2id.items()
            if label.startswith("B-") and "I-" + label[2:] in label2id}


def special_token_layout(tokenizer) -> tuple[list[int], list[int]]:
    """Ids the tokenizer puts before and after a single sequence (``[CLS]``/``[SEP]``, ``<s>``/``</s>``, none).

    Found by encoding one dummy word with and without special tokens, so it follows the tokenizer's own
    post-processor.

    Raises:
        ConfigError: ``E202`` when the tokenizer gives no subword for any probe word.
    """
    for probe in ("a", "0", "x", "."):
        enc = tokenizer([probe], is_split_into_words=True, add_special_tokens=True)
        ids, wids = enc["input_ids"], enc.word_ids()
        inside = [i for i, w in enumerate(wids) if w is not None]
        if inside:
            return list(ids[:inside[0]]), list(ids[inside[-1] + 1:])
    raise ConfigError("E202", f"tokenizer {type(tokenizer).__name__} gives no subword for simple words")


def _check_args(tokens: Sequence[str], max_seq_length: int, stride: int, n_special: int,
                labels: Sequence[int] | None, label_all_tokens: bool, b_to_i: Mapping[int, int] | None) -> None:
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise ConfigError("E202", "tokens must be a list of strings (words), not "
                                  f"{type(tokens).__name__ if isinstance(tokens, str) else 'a list with non-strings'}",
                          fix="Pass the sentence's tokens list.")
    if not isinstance(max_seq_length, int) or max_seq_length < n_special + 1:
        raise ConfigError("E202", f"max_seq_length = {max_seq_length!r} leaves no room for a subword next to the "
                                  f"{n_special} special tokens", fix=f"Use max_seq_length >= {n_special + 2}.")
    capacity = max_seq_length - n_special
    if not isinstance(stride, int) or stride < 0 or stride >= capacity:
        raise ConfigError("E202", f"stride = {stride!r} must be an integer in [0, {capacity - 1}] (the window holds "
                                  f"{capacity} subwords besides special tokens)",
                          fix="Use a stride well below max_seq_length, for instance max_seq_length // 4.")
    if labels is not None:
        if len(labels) != len(tokens):
            raise ConfigError("E202", f"{len(labels)} labels for {len(tokens)} tokens",
                              fix="Give exactly one label id per token (E107).")
        if not all(isinstance(x, int) and (x >= 0 or x == IGNORE_INDEX) for x in labels):
            raise ConfigError("E202", "labels must be label ids (non-negative int) or -100",
                              fix="Map ner_tags to ids with label2id first.")
        if label_all_tokens and b_to_i is None:
            raise ConfigError("E202", "label_all_tokens=True needs b_to_i (B-X id -> I-X id): without it a "
                                      "word split in three would be tagged B-X B-X B-X, three entities",
                              fix="Pass b_to_i=b_to_i_from_labels(id2label).")


def encode_words(tokenizer, tokens: Sequence[str], max_seq_length: int, stride: int,
                 labels: Sequence[int] | None = None, label_all_tokens: bool = False,
                 b_to_i: Mapping[int, int] | None = None) -> list[Window]:
    """Tokenize one sentence of words and cut it into windows (see the module docstring for the rules).

    The sentence is tokenized once, whole, with ``is_split_into_words=True`` (fast tokenizer); windows are then
    cut from its subword sequence, so a subword is the same in every window it appears in.

    Args:
        tokenizer: a transformers fast tokenizer (``is_fast``), e.g. from :func:`core.model.tokenization.load_tokenizer`.
        tokens: the sentence's words, as in the corpus (empty strings and zero-width words allowed).
        max_seq_length: maximum window length in subword ids, special tokens included.
        stride: maximum overlap of consecutive windows, in subwords (whole words only); 0 for none.
        labels: one label id per word (``-100`` to ignore a word), or None for prediction.
        label_all_tokens: also label continuation subwords (``B-X`` -> ``I-X`` via ``b_to_i``, other labels
            unchanged), as in ``run_ner.py``.
        b_to_i: ``B-X`` id -> ``I-X`` id (:func:`b_to_i_from_labels`); required with ``label_all_tokens``.

    Returns:
        The windows in order. An empty sentence gives ``[]``. A sentence whose words all lack subwords gives
        one window of special tokens only (owning every word). With ``labels``, windows without any labelled
        position are left out (they carry no loss, and a batch of them would give a NaN mean loss).

    Raises:
        ConfigError: ``E202`` for a bad argument (``max_seq_length`` too small, ``stride`` not below the window
            content, labels of the wrong length, ``label_all_tokens`` without ``b_to_i``).
        StudioError: ``E202`` when the tokenizer is not fast or returns non-contiguous word pieces.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise StudioError("E202", f"{type(tokenizer).__name__} is not a fast tokenizer; word_ids() is needed",
                          fix="Load the tokenizer with core.model.tokenization.load_tokenizer().")
    prefix, suffix = special_token_layout(tokenizer)
    n_special = len(prefix) + len(suffix)
    _check_args(tokens, max_seq_length, stride, n_special, labels, label_all_tokens, b_to_i)
    n = len(tokens)
    if n == 0:
        return []
    capacity = max_seq_length - n_special
    enc = tokenizer(list(tokens), is_split_into_words=True, add_special_tokens=False, verbose=False)
    ids: list[int] = enc["input_ids"]
    wids = enc.word_ids()

    # pieces of each word: contiguous [first[w], first[w] + count[w])
    first = [-1] * n
    count = [0] * n
    for pos, w in enumerate(wids):
        if w is None:
            continue
        if first[w] < 0:
            first[w] = pos
        elif first[w] + count[w] != pos:
            raise StudioError("E202", f"the tokenizer returned non-contiguous subwords for word {w} "
                                      f"({tokens[w]!r})")
        count[w] += 1
    units = [w for w in range(n) if count[w] > 0]  # words that have subwords, in order
    if not units:
        if labels is not None:
            return []  # nothing to learn from
        return [Window(prefix + suffix, [1] * n_special, None, [None] * n_special, 0, n)]
    lengths = [min(count[w], capacity) for w in units]  # a word longer than a window is truncated

    spans = _window_spans(lengths, capacity, stride)
    owner = _owners(lengths, spans)

    # word ranges owned by each window: contiguous because owner is non-decreasing (see _owners)
    starts: list[int | None] = [None] * len(spans)
    for u, k in enumerate(owner):
        if starts[k] is None:
            starts[k] = units[u]
    starts[0] = 0
    for k in range(len(spans) - 1, 0, -1):  # windows owning no word get an empty range
        if starts[k] is None:
            starts[k] = starts[k + 1] if k + 1 < len(spans) else n

    windows: list[Window] = []
    for k, (ua, ub) in enumerate(spans):
        input_ids = list(prefix)
        word_ids: list[int | None] = [None] * len(prefix)
        win_labels = [IGNORE_INDEX] * len(prefix) if labels is not None else None
        for u in range(ua, ub):
            w = units[u]
            a = first[w]
            input_ids.extend(ids[a:a + lengths[u]])
            word_ids.extend([w] * lengths[u])
            if win_labels is not None:
                lab = labels[w] if owner[u] == k else IGNORE_INDEX
                if label_all_tokens and lab != IGNORE_INDEX:
                    cont = b_to_i.get(lab, lab)
                else:
                    cont = IGNORE_INDEX
                win_labels.append(lab)
                win_labels.extend([cont] * (lengths[u] - 1))
        input_ids.extend(suffix)
        word_ids.extend([None] * len(suffix))
        if win_labels is not None:
            win_labels.extend([IGNORE_INDEX] * len(suffix))
        end = starts[k + 1] if k + 1 < len(spans) else n
        windows.append(Window(input_ids, [1] * len(input_ids), win_labels, word_ids, starts[k], end))
    if labels is not None:
        windows = [w for w in windows if any(x != IGNORE_INDEX for x in w.labels)]
    return windows


def _window_spans(lengths: Sequence[int], capacity: int, stride: int) -> list[tuple[int, int]]:
    """Cut units (words with subwords, each ``<= capacity`` subwords) into windows ``[ua, ub)`` of unit indices.

    Each window is filled greedily with whole units up to ``capacity`` subwords. The next window starts after
    at least one new unit and re-includes the longest run of trailing units totalling at most ``stride``
    subwords that still leaves room for the first unit not yet covered, so every window covers a new unit and
    the loop ends after at most ``len(lengths)`` windows.
    """
    spans: list[tuple[int, int]] = []
    n_units = len(lengths)
    s = 0
    while True:
        e, total = s, 0
        while e < n_units and total + lengths[e] <= capacity:
            total += lengths[e]
            e += 1
        spans.append((s, e))
        if e >= n_units:
            return spans
        nxt, overlap = e, 0
        while nxt - 1 > s:
            grown = overlap + lengths[nxt - 1]
            if grown > stride or grown + lengths[e] > capacity:
                break
            overlap = grown
            nxt -= 1
        s = nxt


def _owners(lengths: Sequence[int], spans: Sequence[tuple[int, int]]) -> list[int]:
    """Window index that scores each unit: max of ``min(left, right)`` context in subwords, ties to the earliest.

    With window starts and ends both increasing, the score difference of a later and an earlier window is
    non-decreasing along the sentence, so owners are non-decreasing and each window owns a contiguous range.
    """
    prefix_sum = [0]
    for length in lengths:
        prefix_sum.append(prefix_sum[-1] + length)
    best = [-1] * len(lengths)
    owner = [0] * len(lengths)
    for k, (ua, ub) in enumerate(spans):
        a, b = prefix_sum[ua], prefix_sum[ub]
        for u in range(ua, ub):
            score = min(prefix_sum[u] - a, b - prefix_sum[u + 1])
            if score > best[u]:
                best[u], owner[u] = score, k
    return owner


def _to_numpy(x: Any):
    import numpy as np

    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().to("cpu")
        if getattr(x, "dtype", None) is not None and str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        x = x.numpy()
    return np.asarray(x)


def merge_window_predictions(n_words: int, windows: Sequence[Window], predictions: Any,
                             id2label: Mapping[int, str] | Sequence[str] | None = None,
                             return_scores: bool = False) -> list[int] | tuple[list[int], list[float]]:
    """One label id per word from the predictions of a sentence's windows.

    Each word is taken from the window where it has most context (``min`` of subwords before and after it in
    the window's content, ties to the earliest window: the max-context rule in the module docstring), at its
    first subword. Words that no window scores (no subword) get a tag by the no-subword rule: ``I-X`` when the
    nearest scored words on both sides are ``B-X``/``I-X`` and ``I-X``, else ``O``. IOB2 validity of the result
    is otherwise left to the caller (a model may predict ``O I-X``; ``core.data.schemes.to_iob2`` repairs it).

    Args:
        n_words: number of words of the sentence (``len(tokens)``).
        windows: the sentence's windows from :func:`encode_words`, in order.
        predictions: per window, scores ``[seq, num_labels]`` (logits or probabilities, float; argmax is taken)
            or label ids ``[seq]`` (int); ``seq >= len(window)`` (batch padding is ignored). A list of numpy
            arrays / torch tensors / lists, or one array or tensor ``[n_windows, seq(, num_labels)]``.
        id2label: id -> IOB2 label (dict or list). Needed for the no-subword rule; without it such words get id
            0, the studio's ``O`` (``Corpus.label_list`` puts ``O`` first).
        return_scores: also return one score per word: the prediction's value for the chosen label at the
            word's first subword (a probability when probabilities are passed, a logit for logits, 1.0 for label
            ids). A word tagged by the no-subword rule scores ``min`` of its two neighbours for ``I-X`` and 1.0
            for ``O``.

    Returns:
        ``n_words`` label ids; with ``return_scores``, ``(ids, scores)``.

    Raises:
        ConfigError: ``E202`` when the numbers of windows and predictions differ, a prediction is shorter than
            its window, or a window refers to a word index ``>= n_words``.
    """
    if not isinstance(n_words, int) or n_words < 0:
        raise ConfigError("E202", f"n_words must be a non-negative int, got {n_words!r}")
    if hasattr(predictions, "shape"):
        preds = list(_to_numpy(predictions))
    else:
        preds = [_to_numpy(p) for p in predictions]
    if len(preds) != len(windows):
        raise ConfigError("E202", f"{len(preds)} predictions for {len(windows)} windows",
                          fix="Pass one prediction row per window, in the windows' order.")
    best_context = [-1] * n_words
    chosen = [0] * n_words
    scores = [1.0] * n_words
    for k, (win, pred) in enumerate(zip(windows, preds)):
        if pred.ndim not in (1, 2):
            raise ConfigError("E202", f"prediction {k} has shape {pred.shape}; expected [seq] ids or "
                                      "[seq, num_labels] scores")
        if pred.shape[0] < len(win.word_ids):
            raise ConfigError("E202", f"prediction {k} has {pred.shape[0]} positions, its window {len(win.word_ids)}")
        content = [i for i, w in enumerate(win.word_ids) if w is not None]
        if not content:
            continue
        lo, hi = content[0], content[-1]
        firsts: dict[int, int] = {}
        lasts: dict[int, int] = {}
        for i in content:
            w = win.word_ids[i]
            if w not in firsts:
                firsts[w] = i
            lasts[w] = i
        for w, i in firsts.items():
            if not 0 <= w < n_words:
                raise ConfigError("E202", f"window {k} refers to word {w} but the sentence has {n_words} words",
                                  fix="Merge each sentence's windows with that sentence's len(tokens).")
            context = min(i - lo, hi - lasts[w])
            if context > best_context[w]:
                best_context[w] = context
                if pred.ndim == 2:
                    label = int(pred[i].argmax())
                    chosen[w], scores[w] = label, float(pred[i][label])
                else:
                    chosen[w], scores[w] = int(pred[i]), 1.0
    ids = _fill_unscored(chosen, scores, [c >= 0 for c in best_context], id2label)
    return (ids, scores) if return_scores else ids


def _fill_unscored(chosen: list[int], scores: list[float], scored: list[bool],
                   id2label: Mapping[int, str] | Sequence[str] | None) -> list[int]:
    """Apply the no-subword rule to the words no window scored (``scores`` is updated in place)."""
    if all(scored):
        return chosen
    if id2label is None:
        return [c if s else 0 for c, s in zip(chosen, scored)]
    items = id2label.items() if isinstance(id2label, Mapping) else enumerate(id2label)
    names = {int(i): label for i, label in items}
    o_id = next((i for i, label in names.items() if label == "O"), 0)
    out = list(chosen)
    n = len(out)
    i = 0
    while i < n:
        if scored[i]:
            i += 1
            continue
        j = i
        while j < n and not scored[j]:
            j += 1
        fill, score = o_id, 1.0
        if i > 0 and j < n:
            left, right = names.get(out[i - 1], "O"), names.get(out[j], "O")
            if right.startswith("I-") and left[:2] in ("B-", "I-") and left[2:] == right[2:]:
                fill, score = out[j], min(scores[i - 1], scores[j])
        for g in range(i, j):
            out[g], scores[g] = fill, score
        i = j
    return out


def collate(windows: Sequence[Window | Mapping[str, Any]], pad_token_id: int, pad_to_multiple_of: int | None = None
            ) -> dict[str, Any]:
    """Pad a batch of windows to its longest window (dynamic padding).

    Args:
        windows: :class:`Window` objects or mappings with ``input_ids`` (and optionally ``attention_mask``,
            ``labels``).
        pad_token_id: the tokenizer's ``pad_token_id``.
        pad_to_multiple_of: round the padded length up to a multiple of this (8 suits tensor cores).

    Returns:
        ``input_ids`` LongTensor ``[batch, seq]`` (padding = ``pad_token_id``), ``attention_mask`` LongTensor
        ``[batch, seq]`` (0 on padding), and, when every window has labels, ``labels`` LongTensor
        ``[batch, seq]`` padded with ``-100``: padding is never labelled ``O``.

    Raises:
        ConfigError: ``E202`` for an empty batch, a missing ``pad_token_id``, or a batch mixing windows with and
            without labels.
    """
    import torch

    if not windows:
        raise ConfigError("E202", "collate() got an empty batch")
    if not isinstance(pad_token_id, int):
        raise ConfigError("E202", f"pad_token_id must be an int, got {pad_token_id!r}",
                          fix="Give the tokenizer a pad token (tokenizer.pad_token = tokenizer.eos_token for GPT-2).")
    rows = [w if isinstance(w, Mapping) else {"input_ids": w.input_ids, "attention_mask": w.attention_mask,
                                              "labels": w.labels} for w in windows]
    has_labels = [r.get("labels") is not None for r in rows]
    if any(has_labels) and not all(has_labels):
        raise ConfigError("E202", "a batch mixes windows with and without labels")
    seq = max(len(r["input_ids"]) for r in rows)
    if pad_to_multiple_of:
        seq = -(-seq // pad_to_multiple_of) * pad_to_multiple_of
    batch = len(rows)
    input_ids = torch.full((batch, seq), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, seq), dtype=torch.long)
    labels = torch.full((batch, seq), IGNORE_INDEX, dtype=torch.long) if all(has_labels) else None
    for b, r in enumerate(rows):
        length = len(r["input_ids"])
        input_ids[b, :length] = torch.as_tensor(r["input_ids"], dtype=torch.long)
        mask = r.get("attention_mask")
        attention_mask[b, :length] = torch.as_tensor(mask, dtype=torch.long) if mask is not None else 1
        if labels is not None:
            if len(r["labels"]) != length:
                raise ConfigError("E202", f"window {b} has {len(r['labels'])} labels for {length} input_ids")
            labels[b, :length] = torch.as_tensor(r["labels"], dtype=torch.long)
    out = {"input_ids": input_ids, "attention_mask": attention_mask}
    if labels is not None:
        out["labels"] = labels
    return out


def word_char_offsets(text: str, tokens: Sequence[str]) -> list[tuple[int, int]]:
    """Character offsets ``(start, end)`` of each word in ``text``, found in order (for highlighting).

    Each token is searched from the end of the previous one (``str.find``), so repeated words map to
    successive occurrences. An empty token gets the empty span at the current position.

    Args:
        text: the raw text the tokens were taken from.
        tokens: the words, in order.

    Returns:
        One ``(start, end)`` per token, code points, end exclusive.

    Raises:
        CorpusError: ``E110`` when a token does not occur in the rest of the text (the tokens were normalised or
            come from another text).
    """
    out: list[tuple[int, int]] = []
    cursor = 0
    for i, tok in enumerate(tokens):
        if not tok:
            out.append((cursor, cursor))
            continue
        start = text.find(tok, cursor)
        if start < 0:
            raise CorpusError("E110", f"token {i} ({tok!r}) does not occur in the text after character {cursor}",
                              text=text[cursor:cursor + 60],
                              fix="Give the tokens exactly as they appear in the text, in order.")
        cursor = start + len(tok)
        out.append((start, cursor))
    return out


def split_text_into_words(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Split raw text into words for prediction, with :func:`core.data.formats.words.split_words` (the same rule as
    the span-format readers: whitespace, one word per punctuation/symbol/CJK/Thai character, zero-width
    characters kept inside words).

    Returns:
        ``(tokens, offsets)``: the words and their ``(start, end)`` character offsets in ``text``.
    """
    from core.data.formats.words import split_words

    offsets = split_words(text)
    return [text[a:b] for a, b in offsets], offsets
