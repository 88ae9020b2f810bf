"""Bytes and types below everything: Arrow arrays and schemas, datetimes as text, Parquet row groups,
staged temporary files and content fingerprints. Imports nothing else of synth_ops but errors."""
