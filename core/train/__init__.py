"""The training loop and its distributed launch; reached by the worker through its entry point only."""
