"""Differential privacy: the accounting of what DP fits spend (``accounting.py``) and the ledger
that keeps it across runs and specs in the publish store (``ledger.py``)."""
