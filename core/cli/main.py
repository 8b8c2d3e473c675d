"""Command line: ``python -m core <command>``. A stable contract other tools and checks call.

Commands: ``inspect``, ``convert``, ``score`` (corpora and metrics), ``train``, ``runs``, ``stop``, ``resume``,
``predict``, ``evaluate`` (training engine), ``pretrain``, ``transfer`` (language adaptation), ``export``,
``serve``, ``push`` (deployment). With ``--json`` the last line printed is one JSON object; scores are
fractions in [0, 1] and an undefined score (n/a) is ``null``. Exit status: 0 success, 1 the input has errors,
2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from core.cli import adapt as adapt_commands
from core.cli import deploy as deploy_commands
from core.cli import train as train_commands
from core.cli.tables import format_scores
from core.data.corpus import ReadOptions
from core.kernel.errors import StudioError, format_problems


def _options(args: argparse.Namespace) -> ReadOptions:
    opts = ReadOptions(format=getattr(args, "format", None), lang=getattr(args, "lang", None))
    if getattr(args, "token_col", None) is not None:
        opts.token_col = args.token_col
    if getattr(args, "tag_col", None) is not None:
        opts.tag_col = args.tag_col
    if getattr(args, "offsets", None):
        opts.offset_unit = args.offsets
    if getattr(args, "scheme", None):
        opts.scheme = args.scheme
    if getattr(args, "no_detect", False):
        opts.detect_lang = False
    if getattr(args, "special_as_o", False):
        opts.special_as_o = True
    return opts


def _add_read_args(p: argparse.ArgumentParser) -> None:
    from core.data.formats import FORMATS

    p.add_argument("--format", choices=FORMATS, help="force the input format (default: detect)")
    p.add_argument("--lang", help="language of every sentence without one in the file (ISO 639-1)")
    p.add_argument("--scheme", help="force the input tagging scheme (IOB1, IOB2, IOBES, BILOU, BMES, IO)")
    p.add_argument("--token-col", type=int, help="0-based token column (column formats; default 0)")
    p.add_argument("--tag-col", type=int, help="0-based tag column (column formats; default last)")
    p.add_argument("--offsets", choices=("auto", "char", "byte", "utf16"),
                   help="span offsets unit: characters (code points), UTF-8 bytes, or UTF-16 code units as browser "
                        "tools count (default auto: the unit under which the spans' texts match)")
    p.add_argument("--no-detect", action="store_true", help="do not detect languages (unknown -> und)")
    p.add_argument("--special-as-o", action="store_true",
                   help="read labels that are no entity tags ([SEP], [PAD], <pad>, X, -100, empty) as O with a "
                        "warning, instead of an E104 error at each")


def _problem_rows(problems) -> list[dict]:
    return [{"code": p.code, "file": p.file, "line": p.line, "message": p.message, "text": p.text, "fix": p.fix}
            for p in problems]


def cmd_inspect(args: argparse.Namespace) -> int:
    from core.data.loader import CorpusStream
    from core.data.validate import CorpusChecker, StatsAccumulator

    # streamed: memory bounded by a chunk of sentences and the statistics, not by the file (CoNLL files)
    corpus = CorpusStream(args.paths, _options(args))
    acc, checker = StatsAccumulator(), CorpusChecker(max_seq_length=args.max_seq_length)
    for chunk in corpus:
        for s in chunk:
            acc.add(s)
            checker.add(s)
    checker.finish(corpus.report)
    stats = acc.result()
    formats = sorted(set(corpus.formats.values()))
    schemes = sorted(set(corpus.schemes.values()))
    out = {
        "format": formats[0] if len(formats) == 1 else ",".join(formats),
        "scheme": schemes[0] if len(schemes) == 1 else ",".join(schemes),
        "n_sentences": stats["n_sentences"],
        "n_tokens": stats["n_tokens"],
        "n_entities": stats["n_entities"],
        "languages": stats["languages"],
        "entity_types": stats["entity_types"],
        "splits": stats["splits"],
        "length": stats["length"],
        "per_language": stats["per_language"],
        "files": {p: {"format": f, "scheme": corpus.schemes.get(p)} for p, f in corpus.formats.items()},
        "errors": _problem_rows(corpus.report.errors),
        "warnings": _problem_rows(corpus.report.warnings),
        "truncated": corpus.report.truncated(),
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"format {out['format']}  scheme {out['scheme']}  sentences {out['n_sentences']:,}  "
              f"tokens {out['n_tokens']:,}  entities {out['n_entities']:,}")
        print("languages: " + ", ".join(f"{k} {v:,}" for k, v in out["languages"].items()))
        print("entity types: " + ", ".join(f"{k} {v:,}" for k, v in out["entity_types"].items()))
        if corpus.report.errors:
            print(f"\n{len(corpus.report.errors)} error(s):\n" + format_problems(corpus.report.errors))
        if corpus.report.warnings:
            print(f"\n{len(corpus.report.warnings)} warning(s):\n" + format_problems(corpus.report.warnings))
    return 1 if corpus.report.errors else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from core.data.loader import load_corpus
    from core.data.writers import write_corpus

    opts = _options(args)
    corpus = load_corpus([args.path], opts)
    scheme = args.scheme_out or "IOB2"
    if scheme == "source":
        schemes = set(corpus.schemes.values())
        scheme = schemes.pop() if len(schemes) == 1 else "IOB2"
    write_corpus(corpus.sentences, args.output, to=args.to, scheme=scheme)
    if corpus.report.problems:
        print(format_problems(corpus.report.problems), file=sys.stderr)
    print(f"wrote {len(corpus.sentences):,} sentences to {args.output} ({args.to}, {scheme})")
    return 1 if corpus.report.errors else 0


def cmd_score(args: argparse.Namespace) -> int:
    from core.data.loader import load_corpus
    from core.eval.compare import score_corpora
    from core.eval.metrics import summary

    gold = load_corpus([args.gold], _options(args))
    pred_opts = _options(args)
    pred_opts.detect_lang = False
    gold_schemes = set(gold.schemes.values())
    if pred_opts.scheme is None and len(gold_schemes) == 1:
        pred_opts.scheme = next(iter(gold_schemes))  # predictions are read in the gold scheme, not guessed
    pred = load_corpus([args.pred], pred_opts)
    for side, corpus in (("gold", gold), ("predictions", pred)):
        if corpus.report.problems:
            print(f"{side}:\n" + format_problems(corpus.report.problems), file=sys.stderr)
    res = score_corpora(gold.sentences, pred.sentences, mode=args.mode, scheme=pred_opts.scheme if args.scheme
                        else None)
    out = summary(res)
    out["n_sentences"] = res["n_sentences"]
    out["normalised_tokens"] = res["normalised_tokens"]
    out["read_errors"] = {"gold": len(gold.report.errors), "predictions": len(pred.report.errors)}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(format_scores(out))
        if res["normalised_tokens"]:
            print(f"{res['normalised_tokens']:,} token(s) matched the gold only after Unicode NFC normalisation")
    return 1 if gold.report.errors or pred.report.errors else 0


def cmd_repair_store(args: argparse.Namespace) -> int:
    from core.runs.store import RunStore

    store = RunStore()
    try:
        store.check()
    except StudioError as exc:
        if exc.code != "E321" and not args.force:
            raise
        print(f"{exc}\nrepairing...", file=sys.stderr)
    else:
        if not args.force:
            print(f"the run store {store.db_path} is healthy: nothing to repair (--force to rebuild it anyway)")
            return 0
    out = store.repair()
    print(f"moved the damaged store to {out['moved_to']}; registered {out['runs']} run(s) and "
          f"{out['datasets']} dataset(s) again from their folders (metric curves are not in the folders)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="ner-studio", description="Multilingual NER Studio engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="read corpora and print statistics and the validation report")
    p.add_argument("paths", nargs="+", help="files or folders")
    _add_read_args(p)
    p.add_argument("--max-seq-length", type=int, default=512, help="model window for the long-sentence warning")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("convert", help="convert a corpus to CoNLL or JSONL")
    p.add_argument("path")
    _add_read_args(p)
    p.add_argument("--to", choices=("conll", "jsonl"), required=True)
    p.add_argument("--scheme-out", help="output scheme for CoNLL: IOB2 (default), IOB1, IOBES, BILOU, BMES, IO "
                   "or 'source' (the input's scheme)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("score", help="entity-level scores of predictions against gold")
    p.add_argument("--gold", required=True)
    p.add_argument("--pred", required=True)
    _add_read_args(p)
    train_commands.add_mode_arg(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_score)

    train_commands.add_commands(sub)
    deploy_commands.add_commands(sub)
    adapt_commands.add_commands(sub)

    p = sub.add_parser("repair-store", help="replace a damaged run store (E321): move it aside, create a new one "
                       "and register the runs and datasets on disk again")
    p.add_argument("--force", action="store_true", help="rebuild even a store that passes its check")
    p.set_defaults(func=cmd_repair_store)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status. Coded errors print ``[CODE] message`` to stderr and exit 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StudioError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": exc.problem.to_dict()}, ensure_ascii=False))
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
