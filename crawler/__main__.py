"""`python -m crawler` is the `followup` command."""

from crawler.cli import main

if __name__ == "__main__":
    main()
