"""Coverage-guided fuzzing of the sans-I/O decoders with atheris (see tests/fuzz/decoders.py)."""
