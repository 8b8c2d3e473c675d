"""Time `python -m core inspect` (reading, scheme conversion, language detection, validation) on the CoNLL-2002
Spanish and Dutch training files (about 24,000 sentences). Target: under 10 s on one core.

Usage: python bench/inspect_speed.py [--data ../shared/data] [--repeat 3]
The last line printed is one JSON object: {"seconds", "sentences", "tokens", "per_stage", "hinted_sentences_per_s",
"neutral": esp.train read under a neutral name (no file-name hint), sentences/s, and the share of its sentences
whose screened language equals the full rule's}.
With ``--size-mb N``: streamed ``inspect`` of big CoNLL files made by concatenating shared CoNLL corpora into a
temporary folder (deleted after): N/4, N/2 and N MB, each in a child process (``python -m core inspect --json``)
whose peak memory (``ru_maxrss``) and wall time are measured; the JSON line gives seconds per MB of each size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def reset_caches() -> None:
    """Empty the language identifier's per-text caches (so a repeat is not a cache hit)."""
    from core.data.langid import default_identifier
    from core.data.langid.decide import evidence_letters

    ident = default_identifier()
    for cache in ident._scores:
        cache.clear()
    evidence_letters.cache_clear()


def time_neutral(src: Path, repeat: int) -> dict:
    """Read + language assignment of one file under a neutral name (a symlink ``corpus.conll``, so no file-name
    hint), best of ``repeat``: sentences/s of ``load_corpus`` on one core (issue 9 target: 10,000)."""
    import tempfile

    from core.data.loader import load_corpus

    tmp = Path(tempfile.mkdtemp(prefix="inspect_neutral_"))
    link = tmp / "corpus.conll"
    link.symlink_to(src.resolve())
    best = None
    for _ in range(repeat):
        reset_caches()
        t0 = time.perf_counter()
        corpus = load_corpus([str(link)])
        secs = time.perf_counter() - t0
        if best is None or secs < best["seconds"]:
            best = {"file": src.name, "seconds": round(secs, 3), "sentences": len(corpus.sentences),
                    "sentences_per_s": round(len(corpus.sentences) / secs),
                    "languages": corpus.languages}
    link.unlink()
    tmp.rmdir()
    best["screened_agrees_with_full_rule"] = screening_agreement(src)
    return best


def screening_agreement(src: Path) -> float:
    """Share of sentences of ``src`` whose language from the screened path (``decide_many``) equals the full
    rule run on every sentence alone (what screening may cost in accuracy)."""
    from core.data.corpus import ReadOptions
    from core.data.langid import default_identifier, sentence_text
    from core.data.loader import load_corpus

    texts = [sentence_text(s) for s in load_corpus([str(src)], ReadOptions(detect_lang=False)).sentences]
    ident = default_identifier()
    screened = ident.decide_many(texts, ["x"] * len(texts))
    full = [ident.decide(t) for t in texts]
    return round(sum(a.lang == b.lang for a, b in zip(screened, full)) / max(1, len(texts)), 4)


# CoNLL-2002 files share one layout (token POS tag): their concatenation is a valid corpus (mixing 2- and 3-column
# files would make every line of the minority layout an E103, which is what inspect should say about such a file)
BIG_SOURCES = ("conll2002_es_nl/esp.train", "conll2002_es_nl/ned.train", "conll2002_es_nl/esp.testa",
               "conll2002_es_nl/ned.testa", "conll2002_es_nl/esp.testb", "conll2002_es_nl/ned.testb")


def _big_conll(data: Path, target: Path, size_mb: float) -> int:
    """Write about ``size_mb`` MB of UTF-8 CoNLL to ``target`` by repeating shared CoNLL files; returns bytes."""
    parts: list[bytes] = []
    for rel in BIG_SOURCES:
        p = data / rel
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix not in (".md",)) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                raw = f.read_bytes()
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                parts.append(raw.rstrip(b"\n") + b"\n\n")
    if not parts:
        raise FileNotFoundError(f"none of {BIG_SOURCES} under {data}")
    want, written = int(size_mb * 2**20), 0
    with target.open("wb") as out:
        while written < want:
            for raw in parts:
                out.write(raw)
                written += len(raw)
                if written >= want:
                    break
    return written


def big_inspect(data: Path, size_mb: float, no_detect: bool) -> dict:
    """Streamed ``inspect`` of size_mb/4, /2 and size_mb MB in child processes: peak memory and seconds per MB."""
    import shutil
    import subprocess
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="inspect_big_"))
    rows = []
    try:
        for mb in (size_mb / 4, size_mb / 2, size_mb):
            path = tmp / f"big_{mb:g}mb.conll"
            nbytes = _big_conll(data, path, mb)
            cmd = [sys.executable, "-c", "import resource, sys, time, runpy\n"
                   "t = time.perf_counter()\nsys.argv = ['core', *sys.argv[1:]]\n"
                   "try:\n    runpy.run_module('core', run_name='__main__')\nexcept SystemExit:\n    pass\n"
                   "sys.stderr.write(f'\\nBENCH {time.perf_counter() - t} "
                   "{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')",
                   "inspect", str(path), "--json"] + (["--no-detect"] if no_detect else [])
            res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ,
                                                                                   "OMP_NUM_THREADS": "1"})
            line = [ln for ln in res.stderr.splitlines() if ln.startswith("BENCH ")]
            if not line:
                raise RuntimeError(f"inspect failed: {res.stderr[-2000:]}")
            secs, rss_kb = line[-1].split()[1:]
            out = json.loads(res.stdout.strip().splitlines()[-1])
            mbs = nbytes / 2**20
            rows.append({"mb": round(mbs, 1), "seconds": round(float(secs), 2),
                         "seconds_per_mb": round(float(secs) / mbs, 4), "peak_rss_mb": round(int(rss_kb) / 1024, 1),
                         "sentences": out["n_sentences"], "tokens": out["n_tokens"]})
            print(json.dumps(rows[-1]), file=sys.stderr)
            path.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    spm = [r["seconds_per_mb"] for r in rows]
    return {"big_inspect": rows, "language_detection": not no_detect,
            "seconds_per_mb_ratio_largest_to_smallest": round(spm[-1] / spm[0], 3),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in rows), "limit_rss_mb": 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    default = next((p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").exists()),
                   ROOT.parent / "shared" / "data")  # /work/main or a worktree /work/wt/XX
    ap.add_argument("--data", default=str(default))
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    ap.add_argument("--size-mb", type=float, help="streamed inspect of N/4, N/2 and N MB of CoNLL (see above)")
    ap.add_argument("--no-detect", action="store_true", help="with --size-mb: no language detection")
    args = ap.parse_args()
    if args.size_mb:
        if not Path(args.data).is_dir():
            print(f"missing data folder {args.data}", file=sys.stderr)
            return 2
        print(json.dumps(big_inspect(Path(args.data), args.size_mb, args.no_detect)))
        return 0
    files = [Path(args.data) / "conll2002_es_nl" / n for n in ("esp.train", "ned.train")]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        print(f"missing data files: {missing}", file=sys.stderr)
        return 2
    try:  # one core, as the target says
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError) as exc:
        print(f"could not pin to one core ({exc}); timing on all cores", file=sys.stderr)
    from core.cli.main import main as cli_main
    from core.data.loader import load_corpus
    from core.data.validate import corpus_stats, validate

    best = None
    for _ in range(args.repeat):
        reset_caches()  # every run detects from scratch
        t0 = time.perf_counter()
        corpus = load_corpus([str(f) for f in files])
        t1 = time.perf_counter()
        validate(corpus)
        stats = corpus_stats(corpus.sentences)
        t2 = time.perf_counter()
        total = t2 - t0
        if best is None or total < best["seconds"]:
            best = {"seconds": round(total, 3), "sentences": stats["n_sentences"], "tokens": stats["n_tokens"],
                    "per_stage": {"read_convert_detect": round(t1 - t0, 3), "validate_stats": round(t2 - t1, 3)},
                    "languages": stats["languages"]}
    # the CLI itself, end to end in this process (argument parsing and JSON output included)
    devnull = open(os.devnull, "w")
    old = sys.stdout
    sys.stdout = devnull
    t0 = time.perf_counter()
    try:
        cli_main(["inspect", *map(str, files), "--json"])
    finally:
        sys.stdout = old
        devnull.close()
    best["cli_seconds"] = round(time.perf_counter() - t0, 3)
    best["hinted_sentences_per_s"] = round(best["sentences"] / best["per_stage"]["read_convert_detect"])
    best["neutral"] = time_neutral(files[0], args.repeat)
    print(json.dumps(best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
