"""Corpora: the Sentence model, tagging schemes, format readers and writers, language id, validation, splits, review."""
