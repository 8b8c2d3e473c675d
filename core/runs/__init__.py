"""The run store (SQLite), background jobs, the worker process, live metric series, the dataset registry."""
