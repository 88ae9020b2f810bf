"""MOSTLY AI's TabularARGN (``synthesizer.kind: tabular_argn``): an autoregressive network over the
learned columns, trained and sampled by ``mostlyai-engine`` on CPU. ``backend.py`` the Synthesizer."""
