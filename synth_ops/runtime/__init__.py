"""A run's state on disk: the content-addressed workspace, step records, fitted models, the published
release layout, and library log levels."""
