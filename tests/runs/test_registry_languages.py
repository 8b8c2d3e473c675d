"""The user's language decisions are saved in the manifest and applied by every load (splits see them)."""

import json

from core.runs import registry
from core.runs.store import RunStore


def test_load_applies_saved_language_decisions_before_random_splits(tmp_path):
    store = RunStore(tmp_path / "ws")
    f = tmp_path / "x.jsonl"
    f.write_text("".join(json.dumps({"tokens": [f"w{i}", "x"], "ner_tags": ["O", "O"], "lang": "es" if i % 2 else "pt"})
                         + "\n" for i in range(40)), encoding="utf-8")
    ds, loaded = registry.create(store, "x", files=[str(f)])
    assert loaded.stats["languages"] == {"es": 20, "pt": 20}
    registry.add_language_override(store, ds.id, {"scope": "language", "from": "pt", "lang": "gl"})
    m = registry.read_manifest(store, ds.id)
    m.split_mode, m.random = "random", {"seed": 1, "dev": 0.25, "test": 0.25}
    again = registry.prepare(store, ds.id, m)
    assert again.stats["languages"] == {"es": 20, "gl": 20}
    assert registry.read_manifest(store, ds.id).summary["languages"] == {"es": 20, "gl": 20}
    # stratified by the corrected language: each split holds both
    by_split = {}
    for s in again.corpus.sentences:
        by_split.setdefault(s.split, set()).add(s.lang)
    assert all(v == {"es", "gl"} for v in by_split.values()) and len(by_split) == 3
    # a fresh load from the saved manifest gives the same
    assert registry.load(registry.read_manifest(store, ds.id)).stats["languages"] == {"es": 20, "gl": 20}
