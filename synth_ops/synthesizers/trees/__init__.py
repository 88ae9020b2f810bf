"""synthpop's CART method on scikit-learn (``synthesizer.kind: trees``): sequential decision trees
with leaf donor pools and privacy knobs, exported to the portable sampler as node arrays.

``order.py`` the visit order, ``knobs.py`` the params, ``encoding.py`` the columns' encodings,
``model.py`` the trees as plain arrays, ``backend.py`` the Synthesizer, ``export.py`` the sampler.
"""
