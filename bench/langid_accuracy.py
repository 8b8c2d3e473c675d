"""Accuracy of the studio's language identification per sentence, side by side with plain langdetect.

Gold languages are each shared corpus's language as its SOURCE.md states it (per folder or file; the
multilingual corpora per file). Sentences without letters are excluded (neither right nor wrong). Four checks:

1. *mix*: up to --per-corpus sentences of each corpus below, shuffled (seeded) into one CoNLL file with a neutral
   name (``mix.conll``), read with ``load_corpus`` (the full rule: script, backends, neighbours, corpus prior).
   Right / wrong / und per length bucket (< 8 words, 8+) and per language, and sentences/s of language
   assignment (one core). Plain langdetect (seeded, per sentence, what the studio used before) on the same
   sentences.
2. *per file*: each corpus sample alone under its real file name (hints on).
3. *two languages, one name*: 150 Spanish + 150 Dutch sentences shuffled into ``train_es.conll``; and, as such a
   file usually is, in order: 150 consecutive Spanish sentences then 150 consecutive Dutch ones (neighbours help).
   For the shuffled file also the figures over its sentences with 4+ letters of words
   (``two_languages_named_es_with_words``): the others (datelines, names) have nothing to tell their language.
4. *no profile*: languages no backend knows (Fon, Ghomálá', Mossi, Bambara, Nigerian Pidgin): under a neutral
   name (must be ``und``, never another language) and under their own folder name (must be that language); and
   ``--lang`` applied to a file (every sentence must get it).

Usage: python bench/langid_accuracy.py [--data ../shared/data] [--per-corpus 60] [--seed 0] [--no-referee]
(``--no-referee``: the rule without its close-language referee, Lingua, for a before / after comparison.)
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (path under the data folder, gold language from its SOURCE.md)
CORPORA = [
    ("conll2002_es_nl/esp.testb", "es"), ("conll2002_es_nl/ned.testb", "nl"), ("conll2003_en_iob1/eng.testb", "en"),
    ("conll2003_de/deu.testb", "de"), ("norne/no_bokmaal-ud-dev.conllu", "nb"), ("uner_da_sr/da_ddt-ud-dev.iob2", "da"),
    ("uner_da_sr/sr_set-ud-dev.iob2", "sr"), ("turku_ner_fi/conll/dev.tsv", "fi"), ("masakhaner_v1/yor/dev.txt", "yo"),
    ("masakhaner_v1/swa/dev.txt", "sw"), ("masakhaner_v2/hau/dev.txt", "ha"), ("masakhaner_v2/wol/dev.txt", "wo"),
    ("masakhaner_v2/zul/dev.txt", "zu"), ("masakhaner_v2/ibo/dev.txt", "ig"), ("masakhaner_x_spans/test/am.jsonl", "am"),
    ("wikiann_panx/xtreme/fr/dev", "fr"), ("zh_msra_ner/msra_test_bio.txt", "zh"),
    ("ja_stockmark_wikipedia_ner/ner.json", "ja"), ("ko_klue_ner/klue-ner-v1.1_dev.tsv", "ko"),
    ("hi_hiner/validation.conll", "hi"), ("ar_anercorp_camel/ANERCorp_CamelLab_test.txt", "ar"),
    ("tr_atisner/test.tsv", "tr"), ("pt_lener_br/dev.conll", "pt"), ("ru_nerel_brat/dev", "ru"),
    ("uk_ner_brat/iob/test.iob", "uk"), ("ehri_ner/cs/ehri_cs.txt", "cs"), ("ehri_ner/hu/ehri_hu.txt", "hu"),
    ("spacy_v2_json_biluo/hr500k.dev01_1.json", "hr"), ("multileg_doccano_jsonl/lv", "lv"),
]
NO_PROFILE = [("masakhaner_v2/fon/dev.txt", "fon"), ("masakhaner_v2/bbj/dev.txt", "bbj"),
              ("masakhaner_v2/mos/dev.txt", "mos"), ("masakhaner_v2/bam/dev.txt", "bm"),
              ("masakhaner_v2/pcm/dev.txt", "pcm")]
UND = "und"


def sentences_with_letters(data: Path, rel: str):
    """The corpus's sentences that hold a letter, in file order (read without language detection)."""
    from core.data.corpus import ReadOptions
    from core.data.langid import sentence_text
    from core.data.langid.script import script_counts
    from core.data.loader import load_corpus

    c = load_corpus(str(data / rel), ReadOptions(detect_lang=False))
    return [s for s in c.sentences if s.tokens and script_counts(sentence_text(s))]


def sample(data: Path, rel: str, n: int, rng: random.Random):
    """``n`` sentences with letters drawn at random (all when the corpus has fewer)."""
    sents = sentences_with_letters(data, rel)
    return rng.sample(sents, min(n, len(sents)))


def consecutive(data: Path, rel: str, n: int, rng: random.Random):
    """``n`` consecutive sentences with letters from a random place in the corpus, with its gold language."""
    sents = sentences_with_letters(data, rel)
    start = rng.randrange(max(1, len(sents) - n))
    gold = dict(CORPORA)[rel]
    return [(s, gold) for s in sents[start:start + n]]


def write_conll(path: Path, sents) -> None:
    """Tokens only (tags O), one token per line; character-tokenised corpora keep their characters."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for s in sents:
            for t in s.tokens:
                t = t.replace(" ", "_").replace("\t", "_") or "_"
                f.write(f"{t} O\n")
            f.write("\n")


def read_back(path: Path, **opts):
    from core.data.corpus import ReadOptions
    from core.data.loader import load_corpus

    t0 = time.perf_counter()
    c = load_corpus(str(path), ReadOptions(format="conll", **opts))
    return c, time.perf_counter() - t0


def n_words(s) -> int:
    """Tokens holding a letter (numbers and punctuation are not words: a football table row
    ``Manchester United 15 7 5 3 29 22 26`` has 9 tokens and 2 words)."""
    return sum(1 for t in s.tokens if any(map(str.isalpha, t)))


def score(golds, preds, lengths, words=None):
    """right / wrong / und fractions per bucket (by tokens; ``words 8+`` / ``words <8`` by :func:`n_words`
    when ``words`` is given) and per language."""
    buckets: dict[str, Counter] = defaultdict(Counter)
    langs: dict[str, Counter] = defaultdict(Counter)
    for i, (g, p, n) in enumerate(zip(golds, preds, lengths)):
        k = "right" if p == g else ("und" if p == UND else "wrong")
        buckets["8+" if n >= 8 else "<8"][k] += 1
        if words is not None:
            buckets["words 8+" if words[i] >= 8 else "words <8"][k] += 1
        buckets["all"][k] += 1
        langs[g][k] += 1

    def frac(c: Counter):
        tot = sum(c.values())
        return {"n": tot, **{k: round(c[k] / tot, 4) if tot else None for k in ("right", "wrong", "und")}}

    return {"buckets": {b: frac(c) for b, c in sorted(buckets.items())},
            "languages": {g: frac(c) for g, c in sorted(langs.items())}}


def plain_langdetect(texts):
    from core.data.langid.backends import get_backend

    b = get_backend("langdetect")
    t0 = time.perf_counter()
    out = []
    for t in texts:
        sc = b.scores(t, k=1)
        out.append(sc[0][0] if sc else UND)
    return out, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = next((p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").exists()),
                   ROOT.parent / "shared" / "data")
    ap.add_argument("--data", default=str(default))
    ap.add_argument("--per-corpus", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-referee", action="store_true", help="the rule without the close-language referee")
    args = ap.parse_args()
    data = Path(args.data)
    if not data.exists():
        print(f"no shared data at {data}", file=sys.stderr)
        return 2
    try:  # one core
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError) as exc:
        print(f"could not pin to one core ({exc})", file=sys.stderr)
    from core.data.langid import decide, default_identifier, sentence_text

    if args.no_referee:  # the process-wide identifier that load_corpus uses, without its referee
        decide._default = decide.LanguageIdentifier(referee=None)
    default_identifier()  # load models before timing
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="langid_bench_"))
    rows, per_file = [], {}
    for rel, gold in CORPORA + NO_PROFILE:
        if not (data / rel).exists():
            print(f"skip missing {rel}", file=sys.stderr)
            continue
        picked = sample(data, rel, args.per_corpus, rng)
        rows += [(s, gold, rel) for s in picked]
        named = tmp / "named" / rel.replace("/", os.sep)
        if (data / rel).is_dir():
            named = named / "part.conll"
        write_conll(named, picked)
        c, _ = read_back(named)
        per_file[rel] = score([gold] * len(c.sentences), [s.lang for s in c.sentences],
                              [len(s.tokens) for s in c.sentences])["buckets"]["all"]
    known = {g for _, g in CORPORA}
    mix_rows = [r for r in rows if r[1] in known]
    rng.shuffle(mix_rows)
    write_conll(tmp / "mix.conll", [r[0] for r in mix_rows])
    corpus, secs = read_back(tmp / "mix.conll")
    preds = [s.lang for s in corpus.sentences]
    golds = [r[1] for r in mix_rows]
    lengths = [len(r[0].tokens) for r in mix_rows]
    if len(preds) != len(golds):
        print(f"read back {len(preds)} sentences, wrote {len(golds)}", file=sys.stderr)
        return 1
    words = [n_words(r[0]) for r in mix_rows]
    studio = score(golds, preds, lengths, words)
    ld_preds, ld_secs = plain_langdetect([sentence_text(r[0]) for r in mix_rows])
    plain = score(golds, ld_preds, lengths, words)

    # two languages in a file named for one
    es = sample(data, "conll2002_es_nl/esp.testb", 150, rng)
    nl = sample(data, "conll2002_es_nl/ned.testb", 150, rng)
    two = [(s, "es") for s in es] + [(s, "nl") for s in nl]
    rng.shuffle(two)
    write_conll(tmp / "two" / "train_es.conll", [t[0] for t in two])
    c2, _ = read_back(tmp / "two" / "train_es.conll")
    two_res = score([t[1] for t in two], [s.lang for s in c2.sentences], [len(t[0].tokens) for t in two])
    # the same file, only the sentences with words that could tell (4+ letters outside names, numbers, codes):
    # a dateline "Madrid , 23 may ( EFE ) ." or "De Morgen" has none, and in a shuffled file no neighbour tells
    from core.data.langid.decide import PRIOR_PASS_MIN_LETTERS, evidence_letters, normalise_case

    telling = [k for k, t in enumerate(two)
               if evidence_letters(normalise_case(sentence_text(t[0]))) >= PRIOR_PASS_MIN_LETTERS]
    two_words = score([two[k][1] for k in telling], [c2.sentences[k].lang for k in telling],
                      [len(two[k][0].tokens) for k in telling])
    in_order = consecutive(data, "conll2002_es_nl/esp.testb", 150, rng) + consecutive(data, "conll2002_es_nl/ned.testb",
                                                                                       150, rng)
    write_conll(tmp / "two_in_order" / "train_es.conll", [s for s, _ in in_order])
    c5, _ = read_back(tmp / "two_in_order" / "train_es.conll")
    order_res = score([g for _, g in in_order], [s.lang for s in c5.sentences], [len(s.tokens) for s, _ in in_order])
    # languages without a profile: neutral name -> und, never another language; own folder name -> that language
    noprof = [r for r in rows if r[1] not in known]
    write_conll(tmp / "noprof" / "data.conll", [r[0] for r in noprof])
    c3, _ = read_back(tmp / "noprof" / "data.conll")
    np_other = Counter(s.lang for s, r in zip(c3.sentences, noprof) if s.lang not in (UND, r[1]))
    np_res = {"neutral_name": score([r[1] for r in noprof], [s.lang for s in c3.sentences],
                                    [len(r[0].tokens) for r in noprof])["languages"],
              "other_languages_given": dict(np_other.most_common()),
              "own_name": {rel: per_file[rel] for rel, _ in NO_PROFILE if rel in per_file}}
    # --lang from the user
    c4, _ = read_back(tmp / "mix.conll", lang="swa")
    user_ok = sum(1 for s in c4.sentences if s.lang == "sw") / max(1, len(c4.sentences))

    n = len(mix_rows)
    print(f"mix: {n} sentences from {len({r[2] for r in mix_rows})} corpora, {len(known)} languages, neutral name")
    print(f"{'bucket':8} {'studio right/wrong/und':>26} {'langdetect right/wrong/und':>30}")
    for b in ("8+", "<8", "words 8+", "words <8", "all"):
        s, p = studio["buckets"].get(b, {}), plain["buckets"].get(b, {})
        print(f"{b:8} {s.get('right')!s:>8} {s.get('wrong')!s:>8} {s.get('und')!s:>8}   "
              f"{p.get('right')!s:>8} {p.get('wrong')!s:>8} {p.get('und')!s:>8}  (n={s.get('n')})")
    print("per language (studio right/wrong/und | langdetect right/wrong):")
    for g, v in studio["languages"].items():
        p = plain["languages"][g]
        print(f"  {g:4} {v['right']:.3f} {v['wrong']:.3f} {v['und']:.3f} | {p['right']:.3f} {p['wrong']:.3f}")
    print("per file (own name):", json.dumps({k: [v["right"], v["wrong"], v["und"]] for k, v in per_file.items()}))
    print("two languages in train_es.conll:", json.dumps(two_res["languages"]))
    print("... only sentences with 4+ letters of words:", json.dumps(two_words["languages"]))
    print("two languages in train_es.conll, in order:", json.dumps(order_res["languages"]))
    print("no profile, neutral name:", json.dumps(np_res["neutral_name"]), "other:", json.dumps(np_res["other_languages_given"]))
    print(f"--lang swa applied to {user_ok:.4f} of the sentences")
    print(f"speed: studio {n / secs:.0f} sentences/s (read + assign), langdetect {n / ld_secs:.0f} sentences/s")
    print(json.dumps({"referee": None if args.no_referee else decide.REFEREE, "sentences": n, "corpora": len({r[2] for r in mix_rows}), "languages": len(known),
                      "studio": studio["buckets"], "langdetect": plain["buckets"],
                      "studio_by_language": studio["languages"], "langdetect_by_language": plain["languages"],
                      "per_file": per_file, "two_languages_named_es": two_res["languages"],
                      "two_languages_named_es_with_words": two_words["languages"],
                      "two_languages_named_es_in_order": order_res["languages"], "no_profile": np_res,
                      "user_lang_applied": round(user_ok, 4), "studio_sentences_per_s": round(n / secs),
                      "langdetect_sentences_per_s": round(n / ld_secs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
