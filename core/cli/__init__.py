"""The `ner-studio` command (also `python -m core`)."""
