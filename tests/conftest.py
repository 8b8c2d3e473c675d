"""Shared fixtures: a tiny BERT token-classification model built in seconds, with no download.

``tiny_model_dir`` is a transformers folder: ``BertForTokenClassification`` (2 layers, hidden 64, 2 heads,
intermediate 128, random weights from a fixed seed) with a WordPiece fast tokenizer made on the fly with the
``tokenizers`` library from a few multilingual sentences (Latin, Cyrillic, Greek, Arabic and Chinese characters),
``[CLS]``/``[SEP]``/``[PAD]``/``[UNK]``/``[MASK]`` special tokens, BERT normalisation (which drops U+200B and
U+00AD, as real BERT tokenizers do) and the CoNLL label set :data:`TINY_LABELS`.
"""

from __future__ import annotations

import pytest

TINY_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
TINY_SEED = 1234

# Text the tiny vocabulary is derived from (see tiny_vocab): most words split into several subwords, which the
# alignment tests need.
TINY_SENTENCES = [
    "Angela Merkel besuchte Paris und Madrid im Jahr 2019 .",
    "El Real Madrid ganó la Liga en Madrid .",
    "Barack Obama was born in Honolulu , Hawaii .",
    "Die Europäische Union hat ihren Sitz in Brüssel .",
    "Владимир Путин посетил Москву и Санкт-Петербург .",
    "Ο Αλέξης Τσίπρας γεννήθηκε στην Αθήνα .",
    "زار محمد القاهرة في عام 2020 .",
    "北京是中国的首都 ， 上海是最大的城市 。",
    "习近平在北京会见了联合国秘书长 。",
    "東京と大阪は日本の大都市です 。",
    "New York is a city in the United States .",
    "Amsterdam en Rotterdam liggen in Nederland .",
    "Microsoft and Google are companies in California .",
]
# Pieces added to the character-level vocabulary so that some words are whole and some split in two.
TINY_EXTRA_PIECES = ["New", "York", "Obama", "Mer", "##kel", "Ber", "##lin"]


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF


def tiny_vocab() -> list[str]:
    """The tiny WordPiece vocabulary, derived deterministically from :data:`TINY_SENTENCES`.

    Special tokens; every character; ``##`` + every non-CJK character (so any word made of known characters is
    tokenizable, CJK characters being split by the BERT pre-tokenizer anyway); words seen at least twice; and
    :data:`TINY_EXTRA_PIECES`. ``tokenizers``' ``WordPieceTrainer`` is not used because it breaks ties in a
    random order (Rust hash maps): its vocabulary changed from run to run.
    """
    counts: dict[str, int] = {}
    chars: set[str] = set()
    for sentence in TINY_SENTENCES:
        for word in sentence.split():
            counts[word] = counts.get(word, 0) + 1
            chars.update(word)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += sorted(chars)
    vocab += ["##" + c for c in sorted(chars) if not _is_cjk(c)]
    vocab += [w for w in sorted(counts) if counts[w] >= 2 and len(w) > 1 and w not in vocab]
    vocab += [p for p in TINY_EXTRA_PIECES if p not in vocab]
    return vocab


def build_tiny_tokenizer():
    """WordPiece ``PreTrainedTokenizerFast`` over :func:`tiny_vocab` (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {piece: i for i, piece in enumerate(tiny_vocab())}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                                lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=512)


def build_tiny_model_dir(path: str) -> str:
    """Write the tiny model and its tokenizer to ``path`` (a few seconds); returns ``path``."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    tokenizer = build_tiny_tokenizer()
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
                        id2label=dict(enumerate(TINY_LABELS)),
                        label2id={label: i for i, label in enumerate(TINY_LABELS)})
    torch.manual_seed(TINY_SEED)
    model = BertForTokenClassification(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """Folder of a tiny BERT token classifier (2 layers, hidden 64) with a multilingual WordPiece tokenizer."""
    return build_tiny_model_dir(str(tmp_path_factory.mktemp("tiny_model")))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    """The tiny model's fast tokenizer, loaded with :func:`core.model.tokenization.load_tokenizer`."""
    from core.model.tokenization import load_tokenizer

    return load_tokenizer(tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_labels() -> list[str]:
    """The tiny model's label list (id -> IOB2 label)."""
    return list(TINY_LABELS)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A run store in a temporary workspace that ``NER_STUDIO_WORKSPACE`` names (pages and workers find it)."""
    from core.runs.store import RunStore

    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    return RunStore(tmp_path / "ws")


@pytest.fixture
def launched(monkeypatch):
    """Replace core.runs.jobs.launch: record the run ids instead of starting a worker."""
    from core.runs import jobs

    calls: list[str] = []
    monkeypatch.setattr(jobs, "launch", lambda run_id, store, resume=False: calls.append(run_id) or 4242)
    return calls
