"""SDV backends: single-table synthesizers (with synth-ops' exact fit and sampling speed-ups)."""
