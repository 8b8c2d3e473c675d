"""Encoders: bundled-model provisioning, tokenizer quirks, subword alignment, batching, the predictor, devices."""
