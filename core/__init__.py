"""Multilingual NER Studio engine: corpora, schemes, languages, metrics, training, inference.

UI-free and importable without torch: modules that need torch/transformers import them inside functions.
"""

__version__ = "0.1.0"
