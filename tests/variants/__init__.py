"""A second correct implementation of the exercises, written differently from solutions/ (see README.md here)."""
