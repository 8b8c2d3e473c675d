"""Scores: entity-level metrics (seqeval), error analysis over saved predictions."""
