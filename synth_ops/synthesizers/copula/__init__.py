"""synth-ops' own Gaussian copula: empirical marginals, rank-based correlation, conditional sampling
for child tables; numpy and scipy only. ``backend.py`` puts it behind the synthesizer contract."""
