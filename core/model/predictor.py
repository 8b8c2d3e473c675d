"""Prediction with a fine-tuned token-classification model folder: one tag per word, never a word lost.

Sentences are encoded with :func:`core.model.alignment.encode_words` (long sentences become overlapping windows),
batched by length so that little padding is computed, run under ``torch.inference_mode()``, and merged back
to exactly one tag per input word with :func:`core.model.alignment.merge_window_predictions`. The tag of a word is
the argmax of its first subword's logits; its score is that label's softmax probability. Predicted tags are
decoded to valid IOB2 (a stray ``I-X`` start becomes ``B-X``, as conlleval reads it) before scoring.

Two backends sit behind the one :class:`Predictor`: PyTorch (a transformers folder) and ONNX Runtime (a folder
written by ``ner-studio export --format onnx``: ``model.onnx`` / ``model_int8.onnx``, the tokenizer, ``config.json``
with ``id2label``, and ``ner_studio.json`` naming the graph). Windowing, batching and the word-level merge are the
same code for both; only the forward pass differs.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from core.data.schemes import entities, to_iob2
from core.kernel.errors import ConfigError
from core.model.device import pick_device, use_bf16

#: ``ner_studio.json`` key naming the ONNX graph of an exported folder (relative file name).
ONNX_FILE_KEY = "onnx_file"


def onnx_model_file(model_dir: str) -> str | None:
    """The ONNX graph a folder should be run with, or None when it is not an ONNX export.

    An ONNX folder is recognised by ``ner_studio.json`` ``{"backend": "onnx", "onnx_file": NAME}``, or, without
    that file, by a ``model.onnx`` and no PyTorch weights. Returns an absolute path.

    Raises:
        ConfigError: E203 when ``ner_studio.json`` names a graph that is not in the folder.
    """
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        return None
    meta_path = folder / "ner_studio.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    if meta.get("backend") == "onnx":
        path = folder / str(meta.get(ONNX_FILE_KEY, "model.onnx"))
        if not path.is_file():
            raise ConfigError("E203", f"ONNX folder {str(folder)!r} names {path.name!r}, which is missing",
                              text=str(path), fix="Export the model again with `ner-studio export`.")
        return str(path.resolve())
    has_torch = any((folder / f).exists() for f in ("model.safetensors", "pytorch_model.bin",
                                                    "model.safetensors.index.json"))
    if (folder / "model.onnx").is_file() and not has_torch:
        return str((folder / "model.onnx").resolve())
    return None


#: ONNX batches submitted ahead, per worker thread (:meth:`OnnxBackend.logits_iter`).
ONNX_BATCHES_IN_FLIGHT = 4


def _usable_cpus() -> int:
    """CPUs this process may run on (``taskset``/affinity respected where the OS tells), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API (macOS, Windows)
        return max(1, os.cpu_count() or 1)


class OnnxBackend:
    """Forward pass of an exported token classifier with ONNX Runtime (CPU).

    Args:
        path: the ``.onnx`` graph (inputs ``input_ids``, ``attention_mask``: int64 [batch, seq]; output ``logits``:
            float32 [batch, seq, num_labels]).
        num_threads: CPU threads; 0 is one per CPU this process may use (``os.sched_getaffinity``). With more
            than one, batches run concurrently, one thread each (:meth:`logits_iter`).

    The session keeps ONNX Runtime's default graph optimisation (``ORT_ENABLE_ALL``: attention, LayerNorm and GELU
    fusions are applied when the graph loads, so fusing at export time gained nothing here).

    Several threads work on different batches, not on one: the batches are small (:attr:`max_batch_sentences`),
    and one of them split over two intra-op threads kept the second core mostly idle (bench/predict_speed.py,
    300 esp.testb sentences, int8, idle 2-core machine, side by side: 153-160 sentences/s on one thread, 156-167
    with two intra-op threads, 254-257 with two batches at once). An ONNX Runtime session may be run from several
    threads at once (its ``Run`` is thread-safe and releases the GIL), so :meth:`logits_iter` hands the batches
    to a pool of ``num_threads`` threads over one session with one intra-op thread each (no intra-op pool, so
    nothing spins).
    A call with one batch (one sentence: ``predict_text``, the service's ``/predict``) runs on one thread: a
    30-word sentence took 7.7-7.9 ms (p50) here, 8.5 ms over two intra-op threads.

    Raises:
        ConfigError: E203 when onnxruntime is not installed or the graph cannot be loaded.
    """

    #: Most windows / padded subwords in one ONNX Runtime forward pass. Small batches are faster on the CPU here:
    #: 300 esp.testb sentences, int8 e5-small, interleaved runs on 2 loaded cores: batches of 64 sentences 8.5
    #: sentences/s on one thread (19.9 on two), of 4 sentences 21.8 (45.0), of 2: 21.1 (53.8), 64 under a
    #: 256-subword budget 18.5 (41.7). Larger activations per call cost more than the per-call overhead saves.
    max_batch_sentences = 4
    max_batch_tokens = 256

    def __init__(self, path: str, num_threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ConfigError("E203", f"{path!r} is an ONNX model but onnxruntime is not installed",
                              fix="pip install 'multilingual-ner-studio[onnx]' (onnxruntime)") from exc
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.workers = max(1, int(num_threads) or _usable_cpus())
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._pool = None
        if self.workers > 1:  # created here, not on first use: callers sharing a Predictor share one pool
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="onnx")
        try:
            self.session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
            raise ConfigError("E203", f"ONNX Runtime cannot load {path!r}: {exc}",
                              fix="Export the model again with `ner-studio export`.") from exc
        self.path = path
        self.input_names = {i.name for i in self.session.get_inputs()}

    def logits(self, input_ids, attention_mask):
        """Logits as a float32 numpy array [batch, seq, num_labels] for int64 tensors [batch, seq]."""
        feed = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = (input_ids * 0).numpy()
        return self.session.run(["logits"], {k: v for k, v in feed.items() if k in self.input_names})[0]

    def logits_iter(self, batches: Iterable[tuple]) -> Iterator:
        """:meth:`logits` of each ``(input_ids, attention_mask)`` pair, yielded in order. With :attr:`workers` > 1
        the pairs run on the pool, at most :data:`ONNX_BATCHES_IN_FLIGHT` per worker submitted ahead of the one
        yielded (a sliding window: no pause at chunk ends, and a large input's batches are not all held)."""
        if self._pool is None:
            for ids, mask in batches:
                yield self.logits(ids, mask)
            return
        window: deque = deque()
        try:
            for ids, mask in batches:
                window.append(self._pool.submit(self.logits, ids, mask))
                if len(window) >= ONNX_BATCHES_IN_FLIGHT * self.workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:  # an error or an abandoned generator: drop what has not started
            for fut in window:
                fut.cancel()


#: Name of the adapter answering languages without their own (``adapters=per_language`` models).
SHARED_ADAPTER = "shared"
#: Sub-folder of a model folder holding one peft adapter folder per adapter name.
ADAPTERS_SUBDIR = "adapters"


@dataclass
class Prediction:
    """Prediction of one sentence.

    Attributes:
        tags: one IOB2 tag per word (``len(tags) == len(words)``).
        scores: probability of each word's tag (float in [0, 1]).
        adapter: the language adapter that tagged it (``adapters=per_language`` models), else None.
    """

    tags: list[str]
    scores: list[float]
    adapter: str | None = None


def entity_spans(text: str, offsets: Sequence[tuple[int, int]], pred: Prediction) -> list[dict]:
    """Entities of a predicted sentence as character spans of ``text``.

    Args:
        text: the text the words come from.
        offsets: ``(start, end)`` character offsets of each word in ``text`` (end exclusive).
        pred: the sentence's prediction (one IOB2 tag and score per word).

    Returns:
        ``[{"start", "end", "label", "text", "score"}]``; an entity's score is the mean of its words' scores.
    """
    out = []
    for typ, s, e in entities(pred.tags):
        a, b = offsets[s][0], offsets[e - 1][1]
        out.append({"start": a, "end": b, "label": typ, "text": text[a:b],
                    "score": round(sum(pred.scores[s:e]) / (e - s), 4)})
    return out


def batches_by_length(lengths: Sequence[int], max_sentences: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of similar length.

    Sorts by length (longest first, so a memory problem shows at once) and cuts a batch when it would exceed
    ``max_sentences`` items or ``max_tokens`` padded subwords (``len(batch) * longest``). Every index appears
    exactly once. Units: subwords.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    out: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        n = lengths[i]
        new_longest = max(longest, n)
        if cur and (len(cur) >= max_sentences or (max_tokens and new_longest * (len(cur) + 1) > max_tokens)):
            out.append(cur)
            cur, new_longest = [], n
        cur.append(i)
        longest = new_longest
    if cur:
        out.append(cur)
    return out


class Predictor:
    """A loaded model folder ready to tag words.

    Args:
        model_dir: a transformers token-classification folder (config with id2label, tokenizer, weights), or an
            ONNX folder from ``ner-studio export`` (run with ONNX Runtime on the CPU; see :func:`onnx_model_file`).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (an ONNX folder always runs on the CPU).
        max_seq_length: window size in subwords (default: the model's training value from
            ``ner_studio.json``, else 256).
        stride: overlap of windows in subwords.
        precision: ``auto``, ``fp32`` or ``bf16`` (see :func:`core.model.device.use_bf16`; bf16 autocast where the
            device multiplies bf16 natively).
        onnx_file: run this graph of an ONNX folder instead of the one ``ner_studio.json`` names (for instance
            ``model.onnx`` next to ``model_int8.onnx``).
        num_threads: ONNX: how many batches run at once, one thread each (0: the CPUs this process may use);
            PyTorch uses ``torch.set_num_threads``.

    Attributes:
        backend: ``"torch"`` or ``"onnx"``.
        adapters: routing of a per-language-adapter model (``{"routes": {lang: name}, "names", "fallback"}``);
            default: ``ner_studio.json["adapters"]`` of the folder. With it, each sentence is tagged by its
            language's adapter (peft ``set_adapter``), the fallback answering the others.

    Raises:
        core.kernel.errors.ConfigError: E203 when the folder is not a usable model.
    """

    def __init__(self, model_dir: str, device: str = "auto", max_seq_length: int | None = None,
                 stride: int | None = None, model=None, tokenizer=None, precision: str = "auto",
                 onnx_file: str | None = None, num_threads: int = 0, adapters: dict | None = None) -> None:
        import torch

        from core.model.hub import resolve_model
        from core.model.tokenization import load_tokenizer

        graph = None
        if model is None:
            graph = str(Path(model_dir, onnx_file).resolve()) if onnx_file else onnx_model_file(model_dir)
            if graph is not None and not Path(graph).is_file():
                raise ConfigError("E203", f"ONNX graph {graph!r} does not exist", text=graph,
                                  fix="Pick a .onnx file of the exported folder.")
        if graph is not None:
            self._init_onnx(model_dir, graph, max_seq_length, stride, tokenizer, num_threads)
            self._torch = torch
            return
        from transformers import AutoModelForTokenClassification

        self.backend = "torch"
        self.onnx = None
        self.model_dir = resolve_model(model_dir) if model is None else model_dir
        meta = self._read_meta(max_seq_length, stride)
        self.device = pick_device(device)

        self.bf16 = use_bf16(precision, self.device)
        self.tokenizer = tokenizer or load_tokenizer(self.model_dir)
        self.adapters = adapters if adapters is not None else meta.get("adapters")
        if model is None:
            model = AutoModelForTokenClassification.from_pretrained(self.model_dir)
            if self.adapters:
                model = _load_adapters(model, Path(self.model_dir), self.adapters)
            model.to(self.device)
        self.model = model
        self.model.eval()
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self._torch = torch

    def _read_meta(self, max_seq_length: int | None, stride: int | None) -> dict:
        """The folder's ``ner_studio.json`` ({} when absent); sets the window size and stride (argument, else the
        training value, else 256 / 32 subwords)."""
        meta_path = Path(self.model_dir) / "ner_studio.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        self.max_seq_length = max_seq_length or int(meta.get("max_seq_length", 256))
        self.stride = stride if stride is not None else int(meta.get("stride", 32))
        return meta

    def _init_onnx(self, model_dir: str, graph: str, max_seq_length: int | None, stride: int | None, tokenizer,
                   num_threads: int) -> None:
        from core.model.tokenization import load_tokenizer

        self.backend = "onnx"
        self.adapters = None  # an ONNX export is one graph: per-language adapters are not exported
        self.model_dir = str(Path(model_dir).expanduser().resolve())
        self._read_meta(max_seq_length, stride)
        self.device = "cpu"
        self.bf16 = False
        cfg_path = Path(self.model_dir) / "config.json"
        if not cfg_path.is_file():
            raise ConfigError("E203", f"ONNX folder {self.model_dir!r} lacks config.json (id2label)",
                              text=self.model_dir, fix="Export the model again with `ner-studio export`.")
        id2label = json.loads(cfg_path.read_text(encoding="utf-8")).get("id2label") or {}
        if not id2label:
            raise ConfigError("E203", f"config.json of {self.model_dir!r} has no id2label", text=str(cfg_path),
                              fix="Export the model again with `ner-studio export`.")
        self.id2label = {int(k): v for k, v in id2label.items()}
        self.tokenizer = tokenizer or load_tokenizer(self.model_dir)
        self.onnx = OnnxBackend(graph, num_threads)
        self.model = None

    def _batch_probs(self, plan: list[list[int]], windows: list, pad_id: int):
        """``(batch, collated batch, probabilities)`` for each batch of ``plan`` (window indices), in order; each
        batch is collated as the forward pass takes it. ONNX batches run concurrently
        (:meth:`OnnxBackend.logits_iter`), except a lone batch (one sentence), which runs on the caller's thread."""
        from core.model.alignment import collate

        torch = self._torch
        encoded: deque = deque()

        def feed():
            for batch in plan:
                enc = collate([windows[i] for i in batch], pad_id)
                encoded.append((batch, enc))
                yield enc["input_ids"], enc["attention_mask"]

        if self.onnx is None:
            outputs = (self._probs(ids, mask) for ids, mask in feed())
        else:
            raw = (self.onnx.logits_iter(feed()) if len(plan) > 1
                   else (self.onnx.logits(ids, mask) for ids, mask in feed()))
            outputs = (torch.from_numpy(x).float().softmax(-1) for x in raw)
        for probs in outputs:
            batch, enc = encoded.popleft()
            yield batch, enc, probs

    def _probs(self, input_ids, attention_mask):
        """Softmax probabilities of the PyTorch model, float32 CPU tensor [batch, seq, num_labels], for int64
        tensors [batch, seq] (the ONNX backend goes through :meth:`OnnxBackend.logits_iter`)."""
        torch = self._torch
        with torch.autocast(device_type=self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device))
        return out.logits.float().softmax(-1).cpu()

    def adapter_for(self, lang: str | None) -> str | None:
        """The adapter that tags a sentence of ``lang``: its route, else the fallback; None without adapters."""
        if not self.adapters:
            return None
        return self.adapters.get("routes", {}).get(lang or "und", self.adapters.get("fallback", SHARED_ADAPTER))

    def predict_tokens(self, sentences: Sequence[Sequence[str]], max_sentences: int = 64,
                       max_tokens: int = 8192, langs: Sequence[str | None] | None = None) -> list[Prediction]:
        """Tag pre-split sentences.

        Args:
            sentences: words of each sentence.
            langs: language of each sentence (routes a per-language-adapter model; a None entry, or no list, is
                detected with :func:`core.data.langid.detect`); ignored by other models.
            max_sentences: most windows per forward pass (ONNX: at most
                :attr:`OnnxBackend.max_batch_sentences`).
            max_tokens: most padded subwords per forward pass (ONNX: at most :attr:`OnnxBackend.max_batch_tokens`;
                a single window longer than that still runs, alone).

        Returns:
            One :class:`Prediction` per sentence, ``len(tags) == len(words)`` always (empty sentence: empty).
        """
        return self.predict_with_loss(sentences, None, max_sentences, max_tokens, langs=langs)[0]

    def predict_with_loss(self, sentences: Sequence[Sequence[str]], label_ids: Sequence[Sequence[int]] | None,
                          max_sentences: int = 64, max_tokens: int = 8192,
                          langs: Sequence[str | None] | None = None) -> tuple[list[Prediction], float | None]:
        """Tag sentences and, given gold label ids (one per word), also return the mean cross-entropy over the
        first subwords of labelled words (the training loss's definition), from the same forward pass.

        A per-language-adapter model tags each language's sentences with its adapter (``langs`` as in
        :meth:`predict_tokens`); each :class:`Prediction` names the adapter that answered.

        Returns:
            ``(predictions, mean_loss)``; ``mean_loss`` is None without labels or when no word is labelled.
        """
        import math

        if not self.adapters:
            results, nll, n = self._predict_group(sentences, label_ids, max_sentences, max_tokens)
        else:
            from core.data.langid import detect

            groups: dict[str, list[int]] = {}
            for i, words in enumerate(sentences):
                lang = langs[i] if langs is not None else None
                if lang is None:
                    lang = detect(" ".join(words))[0]
                groups.setdefault(self.adapter_for(lang), []).append(i)
            results = [Prediction([], [])] * len(sentences)
            nll, n = 0.0, 0
            for name, idx in sorted(groups.items()):
                self.model.set_adapter(name)
                res, g_nll, g_n = self._predict_group([sentences[i] for i in idx],
                                                      None if label_ids is None else [label_ids[i] for i in idx],
                                                      max_sentences, max_tokens)
                for i, r in zip(idx, res):
                    r.adapter = name
                    results[i] = r
                nll, n = nll + g_nll, n + g_n
        loss = nll / n if n else None
        return results, (loss if loss is None or math.isfinite(loss) else None)

    def _predict_group(self, sentences, label_ids, max_sentences: int, max_tokens: int):
        """Predictions of ``sentences`` with the model as it is (active adapter), summed NLL, labelled count."""
        from core.model.alignment import IGNORE_INDEX, encode_words, merge_window_predictions

        torch = self._torch
        if self.onnx is not None:
            max_sentences = min(max_sentences, self.onnx.max_batch_sentences)
            max_tokens = min(max_tokens or self.onnx.max_batch_tokens, self.onnx.max_batch_tokens)
        windows = []
        owner: list[int] = []
        for si, words in enumerate(sentences):
            labels = list(label_ids[si]) if label_ids is not None else None
            for w in encode_words(self.tokenizer, list(words), self.max_seq_length, self.stride, labels=labels):
                windows.append(w)
                owner.append(si)
        probs_of: list = [None] * len(windows)
        pad_id = self.tokenizer.pad_token_id or 0
        nll, n_labelled = 0.0, 0
        with torch.inference_mode():
            plan = batches_by_length([len(w.input_ids) for w in windows], max_sentences, max_tokens)
            for batch, enc, probs in self._batch_probs(plan, windows, pad_id):  # probs: [batch, seq, labels] f32
                if label_ids is not None:
                    lab = enc["labels"]  # [batch, seq] int64, -100 where not scored
                    mask = lab != IGNORE_INDEX
                    if mask.any():
                        picked = probs[mask].gather(1, lab[mask].unsqueeze(1)).clamp_min(1e-12)
                        nll += float(-picked.log().sum())
                        n_labelled += int(mask.sum())
                for row, i in enumerate(batch):
                    probs_of[i] = probs[row, : len(windows[i].input_ids)]
        per_sentence: list[list[int]] = [[] for _ in sentences]
        for wi, si in enumerate(owner):
            per_sentence[si].append(wi)
        results: list[Prediction] = []
        for si, words in enumerate(sentences):
            if not words:
                results.append(Prediction([], []))
                continue
            wins = [windows[i] for i in per_sentence[si]]
            probs = [probs_of[i] for i in per_sentence[si]]
            ids, scores = merge_window_predictions(len(words), wins, probs, return_scores=True)
            tags, _ = to_iob2([self.id2label[i] for i in ids], "IOB2")
            results.append(Prediction(tags, [float(x) for x in scores]))
        return results, nll, n_labelled

    def predict_text(self, text: str, lang: str | None = None) -> dict:
        """Tag raw text in any language.

        Words come from :func:`core.data.formats.words.split_words` (whitespace and punctuation; one word per
        character for Chinese, Japanese and Thai).

        Returns:
            ``{"words", "tags", "entities": [{start, end, label, text, score}], "lang", "adapter", "latency_ms"}``
            with character offsets into ``text`` (end exclusive); an entity's score is the mean of its words'
            scores; ``adapter`` is the language adapter that answered (None for a model without adapters).
        """
        from core.data.formats.words import split_words
        from core.data.langid import detect

        t0 = time.perf_counter()
        offsets = split_words(text)
        words = [text[a:b] for a, b in offsets]
        lang = lang or detect(text)[0]
        pred = self.predict_tokens([words], langs=[lang])[0] if words else Prediction([], [], self.adapter_for(lang))
        ents = entity_spans(text, offsets, pred)
        return {"words": words, "tags": pred.tags, "entities": ents, "lang": lang, "adapter": pred.adapter,
                "offsets": offsets, "latency_ms": round((time.perf_counter() - t0) * 1000, 1)}


def _load_adapters(model, model_dir: Path, routing: dict):
    """The base model wrapped in peft with the shared adapter and every routed adapter of ``model_dir/adapters``.

    Raises:
        core.kernel.errors.ConfigError: E203 when an adapter folder is missing.
    """
    from peft import PeftModel

    from core.kernel.errors import ConfigError

    root = model_dir / ADAPTERS_SUBDIR
    names = [routing.get("fallback", SHARED_ADAPTER)] + [n for n in routing.get("names", [])
                                                         if n != routing.get("fallback", SHARED_ADAPTER)]
    for name in names:
        if not (root / name / "adapter_config.json").exists():
            raise ConfigError("E203", f"adapter {name!r} is missing from {root}", file=str(root),
                              fix="Use the whole model folder the run saved (model/ with its adapters/ folder).")
    peft_model = PeftModel.from_pretrained(model, str(root / names[0]), adapter_name=names[0])
    for name in names[1:]:
        peft_model.load_adapter(str(root / name), adapter_name=name)
    return peft_model
