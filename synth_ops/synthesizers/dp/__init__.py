"""Differentially private synthesizers (``dp_mst``, ``dp_aim``) from OpenDP: the optional ``[dp]`` extra."""
