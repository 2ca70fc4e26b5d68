"""`python -m bench`: followup's benchmark (see bench/run.py)."""

from bench.run import main

main()
