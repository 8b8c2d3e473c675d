"""Deployment of a trained model: ONNX export with a per-language quality check, the model card, the HTTP
prediction service and the push to the Hugging Face Hub.

Layer: above ``core.runs`` (it reads a run's data and scores from the store), below ``core.ui``/``core.cli``.
Importing this package imports no torch; the modules that need it import it inside their functions.
"""
