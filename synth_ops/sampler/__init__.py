"""The portable sampler: a fitted Gaussian copula (or sequential trees: ``trees.py``) as plain JSON and
``.npy`` arrays, sampled with numpy, pandas and pyarrow only (no modelling library, no pickle).

``format.py`` reads and writes the artifact (format version, sha256 manifest); ``decoders.py`` turns
normal scores into column values; ``sampler.py`` is the public ``Sampler``; ``generated.py`` makes the
columns synth-ops generates rather than learns. Fitted backends translate themselves into this format
(``synthesizers/*/export.py``, called by ``steps/export.py``): nothing here imports a backend.
"""

from __future__ import annotations

from synth_ops.sampler.format import FORMAT, FORMAT_VERSION, write_sampler

__all__ = ["FORMAT", "FORMAT_VERSION", "Sampler", "write_sampler"]


def __getattr__(name: str):
    if name == "Sampler":  # numpy and pandas load with it, not with the package
        from synth_ops.sampler.sampler import Sampler

        return Sampler
    raise AttributeError(name)
