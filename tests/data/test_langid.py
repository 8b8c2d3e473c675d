"""Language per sentence: explicit sources win, detection is seeded and grouped, und for text without letters."""

import pytest

from core.data.corpus import Sentence
from core.data.langid import UND, assign_languages, detect, language_from_path, normalize_code


@pytest.mark.parametrize("code,expected", [("zh-cn", "zh"), ("zh-tw", "zh"), ("hau", "ha"), ("esp", "es"),
                                           ("EN", "en"), ("pcm", "pcm"), (None, "und"), ("pt_BR", "pt")])
def test_normalize_code(code, expected):
    assert normalize_code(code) == expected


@pytest.mark.parametrize("path,expected", [
    ("data/conll2002_es_nl/ned.train", "nl"),
    ("data/conll2002_es_nl/esp.testb", "es"),
    ("masakhaner_v1/amh/train.txt", "am"),
    ("germeval2014/NER-de-dev.tsv", "de"),
    ("masakhaner_x_spans/test/am.jsonl", "am"),
    ("corpora/train.txt", None),
    ("to_review/train.conll", None),
])
def test_language_from_path(path, expected):
    assert language_from_path(path) == expected


@pytest.mark.parametrize("text", ["2024-01-05", "12 345,6 %", "!!! ...", "", "https://x.io/1"])
def test_no_letters_is_und_not_exception(text):
    assert detect(text) == (UND, 0.0)


def test_detection_is_deterministic_and_iso1():
    text = "人民日报记者今天在北京报道了这次会议的消息"
    first = detect(text)
    assert first[0] == "zh"
    assert all(detect(text) == first for _ in range(5))


def _sent(tokens, source="mixed.txt", **kw):
    return Sentence(tokens=tokens, ner_tags=["O"] * len(tokens), source=source, **kw)


def test_explicit_sources_never_overridden_and_user_choice():
    s1 = _sent("Das ist ein Haus".split(), lang="fr", lang_source="field")
    s2 = _sent("Das ist ein Haus".split())
    assign_languages([s1, s2], user_lang="de")
    assert (s1.lang, s1.lang_source) == ("fr", "field")
    assert (s2.lang, s2.lang_source) == ("de", "user")


def test_mixed_language_file_gets_per_sentence_languages():
    es = "El presidente del gobierno visitó ayer la ciudad de Barcelona con sus ministros".split()
    de = "Der Bundeskanzler besuchte gestern die Stadt Hamburg mit seinen Ministern und Beratern".split()
    sents = [_sent(es), _sent(de), _sent(es), _sent(de), _sent(["2024", "-", "01"])]
    assign_languages(sents)
    assert [s.lang for s in sents] == ["es", "de", "es", "de", "und"]


def test_filename_hint_for_language_langdetect_lacks():
    yo = _sent("Ọmọ Adéwálé lọ sí ilé ìwé ní Èkó".split(), source="corpus/yor/train.txt")
    assign_languages([yo])
    assert (yo.lang, yo.lang_source) == ("yo", "filename")


def test_character_tokenised_chinese_is_joined_without_spaces():
    # Space-joined, langdetect reads these characters as Korean; the studio joins per-character tokens.
    s = _sent(list("世界卫生组织星期三在长沙开设了新的办事处。"), source="weibo.train")
    assign_languages([s])
    assert s.lang == "zh"


def test_minority_language_in_a_block_is_not_swallowed():
    # Joined, this block is 'en' with probability 0.99999; the first sentence alone is confidently German.
    de1 = "Der Bundeskanzler besuchte gestern die Stadt Hamburg mit seinen Ministern".split()
    de2 = "Die Regierung hat heute ein neues Gesetz für die Schulen beschlossen".split()
    en = ["The president of the company announced a new factory in the north of England".split(),
          "Shares of the bank fell sharply after the report was published on Monday".split(),
          "The minister said that the talks with the unions would continue next week".split()]
    sents = [_sent(de1), _sent(de2)] + [_sent(t) for t in en] + [_sent(["Ok", "."])]
    assign_languages(sents)
    assert [s.lang for s in sents] == ["de", "de", "en", "en", "en", "en"]
