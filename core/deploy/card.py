"""The model card: ``README.md`` in a model folder, with the Hugging Face Hub's YAML header.

Header keys follow the Hub's model-card metadata (``huggingface_hub.ModelCardData``): ``language``,
``library_name``, ``pipeline_tag``, ``tags``, ``base_model`` (only for a Hub id), ``metrics`` and a
``model-index`` with one strict-F1 result per language. The body gives the labels, the data, the training
configuration, the per-language test scores with their scoring mode, and the export checks (F1 of PyTorch and of
each ONNX graph per language, the difference in F1 points, CPU throughput and latency, and the int8 decision).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

#: How every F1 in a card is computed (core.eval.metrics).
SCORING_MODE = "strict IOB2 entity level (seqeval strict mode, = conlleval)"


def _f(v, digits: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _yaml_str(s: str) -> str:
    return json.dumps(str(s), ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _labels(folder: Path) -> list[str]:
    cfg = folder / "config.json"
    if not cfg.is_file():
        return []
    id2label = json.loads(cfg.read_text(encoding="utf-8")).get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)]


def _languages(run, export: dict | None) -> list[str]:
    langs: set[str] = set()
    summary = getattr(run, "summary", None) or {}
    langs.update(summary.get("languages") or [])
    langs.update(((summary.get("test") or {}).get("per_language") or {}).keys())
    if export:
        langs.update((export.get("backends", {}).get("torch") or {}).get("per_language", {}).keys())
    return sorted(lang for lang in langs if lang and lang != "und")


def card_text(folder: str, run=None, export: dict | None = None, source_dir: str | None = None) -> str:
    """Markdown of the model card of ``folder``.

    Args:
        folder: the model folder (its ``config.json`` gives the labels).
        run: the :class:`core.runs.store.Run` that trained the model (config, data, test scores), or None.
        export: the report of :func:`core.deploy.export.export_onnx`, or None for a PyTorch folder.
        source_dir: the PyTorch folder an export came from.
    """
    folder_p = Path(folder)
    labels = _labels(folder_p)
    types = sorted({lab.split("-", 1)[1] for lab in labels if "-" in lab})
    langs = _languages(run, export)
    config = dict(getattr(run, "config", None) or {})
    base = str(config.get("model_name_or_path", ""))
    summary = getattr(run, "summary", None) or {}
    test = summary.get("test") or {}
    tags = ["token-classification", "ner", "multilingual-ner-studio"] + (["onnx"] if export else [])
    head = ["---", "language:"] + [f"- {_yaml_str(lang)}" for lang in langs] if langs else ["---"]
    head += [f"library_name: {'onnx' if export else 'transformers'}", "pipeline_tag: token-classification",
             "tags:"] + [f"- {t}" for t in tags]
    if re.fullmatch(r"[\w.\-]+/[\w.\-]+", base):
        head.append(f"base_model: {_yaml_str(base)}")
    results = [(lang, sc.get("f1")) for lang, sc in (test.get("per_language") or {}).items()
               if sc.get("f1") is not None]
    if results:
        head += ["metrics:", "- f1", "model-index:", f"- name: {_yaml_str(folder_p.name)}", "  results:"]
        for lang, f1 in results:
            head += ["  - task:", "      type: token-classification",
                     "    dataset:", f"      name: {_yaml_str(f'test ({lang})')}", "      type: custom",
                     "    metrics:", "    - type: f1", f"      value: {f1:.4f}",
                     f"      name: {_yaml_str(f'strict entity F1 ({lang})')}"]
    head.append("---")

    body = ["", f"# {folder_p.name}: named-entity recognition", "",
            "Trained with Multilingual NER Studio." + (f" Base model: `{base}`." if base else ""), ""]
    if export:
        body += [f"ONNX export of `{source_dir or export.get('source_model', '')}`: runs with ONNX Runtime on the "
                 f"CPU; the graph to use is `{export.get('model_file')}` (named in `ner_studio.json`).", ""]
    body += ["## Labels", "", f"IOB2 tags over {len(types)} entity types: " + (", ".join(f"`{t}`" for t in types)
                                                                            or "none") + ".", ""]
    body += ["## Languages", "", (", ".join(langs) if langs else "not recorded") + ".", ""]
    data = getattr(run, "data", None) or {}
    if data:
        body += ["## Data", ""]
        for split in ("train", "dev", "test"):
            paths = data.get(split) or []
            n = summary.get(f"n_{split}")
            where = ", ".join(f"`{Path(p).name}`" for p in ([paths] if isinstance(paths, str) else paths))
            limit = data.get(f"max_{split}_sentences")
            body.append(f"- **{split}**: " + (f"{n:,} sentences" if n is not None else "size not recorded") +
                        (f" from {where}" if where else (" held out from train" if split == "dev" else " none")) +
                        (f" (first {limit:,})" if limit else ""))
        body.append("")
    if test:
        body += ["## Test scores", "", f"Scoring mode: {SCORING_MODE}; fractions in [0, 1]; n/a where a language "
                 "has no gold and no predicted entity.", "", "| language | precision | recall | F1 | support |",
                 "|---|---:|---:|---:|---:|"]
        for lang, sc in [("all", test.get("overall") or {})] + list((test.get("per_language") or {}).items()):
            body.append(f"| {lang} | {_f(sc.get('precision'))} | {_f(sc.get('recall'))} | {_f(sc.get('f1'))} | "
                        f"{sc.get('support', 0)} |")
        body.append("")
    if export:
        body += export_section(export)
    if config:
        body += ["## Training configuration", "", "```json", json.dumps(config, indent=2, ensure_ascii=False), "```",
                 ""]
    body += ["## Use", "", "```bash", f"python -m core predict --model {folder_p.name} --text \"...\"",
             f"python -m core serve --model {folder_p.name} --port 8000", "```", ""]
    return "\n".join(head + body)


def export_section(export: dict) -> list[str]:
    """The "Export checks" part of the card: every backend's F1 per language, drops, speed, the int8 decision."""
    chk = export.get("check") or {}
    lines = ["## Export checks", "", f"- ONNX opset {export.get('opset')}; largest |logit difference| PyTorch vs "
             f"ONNX fp32 on a padded check batch: {export.get('max_logit_diff', 0):.2e}."]
    backends = export.get("backends") or {}
    if not backends:
        lines += ["- Not re-scored: no annotated sentences were available (export with --data to check).", ""]
        return lines
    files = ", ".join(f"`{Path(f).name}`" for f in chk.get("files") or [])
    lines += [f"- Re-scored on {chk.get('n_sentences', 0):,} {chk.get('split')} sentences ({files}); scoring mode: "
              f"{chk.get('scoring', SCORING_MODE)}. CPU, {export.get('threads')} thread(s); throughput is batched "
              "prediction of every sentence (ONNX: that many batches at once, one thread each), latency one "
              "sentence per call (ONNX: on one thread).", ""]
    langs = sorted((backends.get("torch") or {}).get("per_language", {}))
    lines += ["| backend | F1 all | " + " | ".join(f"F1 {lang}" for lang in langs) +
              " | sentences/s | latency p50 (ms) | speed-up |", "|---" * (len(langs) + 5) + "|"]
    for key, sc in backends.items():
        drops = (export.get("f1_drop_points") or {}).get(key) or {}

        def cell(lang, v):
            d = drops.get(lang)
            return _f(v) + (f" ({0.0 - d:+.2f} pt)" if d is not None else "")

        speed = (export.get("speedup") or {}).get(key)
        lines.append(f"| {key} | {cell('all', sc.get('overall_f1'))} | " +
                     " | ".join(cell(lang, sc['per_language'].get(lang)) for lang in langs) +
                     f" | {sc.get('sentences_per_s')} | {sc.get('latency_ms_p50')} | "
                     f"{'1.00x (reference)' if key == 'torch' else (f'{speed:.2f}x' if speed else 'n/a')} |")
    q = export.get("int8") or {}
    lines.append("")
    if q.get("requested"):
        verdict = "accepted" if q.get("accepted") else "REFUSED (the int8 graph was deleted; fp32 is the model)"
        lines.append(f"- int8 (dynamic quantization, onnxruntime): **{verdict}**: {q.get('reason')}; threshold "
                     f"{q.get('max_f1_drop_points')} F1 point(s) per language.")
    lines.append("")
    return lines


def write_card(folder: str, run=None, export: dict | None = None, source_dir: str | None = None) -> str:
    """Write ``README.md`` into ``folder`` (see :func:`card_text`); returns its path."""
    path = Path(folder) / "README.md"
    path.write_text(card_text(folder, run=run, export=export, source_dir=source_dir), encoding="utf-8")
    return str(path)
