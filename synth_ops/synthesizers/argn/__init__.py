"""MOSTLY AI's TabularARGN behind the synthesizer contract (the optional ``[argn]`` extra)."""
