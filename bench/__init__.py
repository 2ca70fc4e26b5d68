"""followup's benchmark: a generated mirror of real sites' structures, measured (bench/run.py)."""
