"""README.md's "What `followup demo` prints" block, checked against what the demo prints.

Regenerate the block after a deliberate change to the demo (its pages, seeds or output):

    .venv/bin/python -m tests.readme_demo --write

Without --write it prints a diff of the README block against a fresh run and exits 1 on a
difference. Log times and the local port change on every run and are compared as placeholders.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"
HEADING = "### What `followup demo` prints"
LOG_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (?=\[)", re.MULTILINE)
PORT_RE = re.compile(r"127\.0\.0\.1:\d+")


def run_demo() -> str:
    """What `followup demo --db demo.db` prints, stderr then stdout, as the README shows it."""
    command = Path(sys.executable).with_name("followup")
    with tempfile.TemporaryDirectory() as directory:
        result = subprocess.run(
            [str(command), "demo", "--db", "demo.db"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"followup demo failed ({result.returncode}):\n{result.stderr}")
    return LOG_TIME_RE.sub("", result.stderr) + result.stdout


def block_span(text: str) -> tuple[int, int]:
    """Start and end offsets of the first ``` block after the demo heading."""
    start = text.index("```\n", text.index(HEADING)) + len("```\n")
    return start, text.index("```\n", start)


def normalise(text: str) -> list[str]:
    return [PORT_RE.sub("127.0.0.1:PORT", line).rstrip() for line in text.strip().splitlines()]


def readme_diff(printed: str) -> str:
    """A unified diff of the README block against what the demo printed ('' when equal)."""
    text = README.read_text(encoding="utf-8")
    start, end = block_span(text)
    return "\n".join(
        difflib.unified_diff(
            normalise(text[start:end]),
            normalise(printed),
            "README.md demo block",
            "followup demo",
            lineterm="",
        )
    )


def write_readme(printed: str) -> None:
    text = README.read_text(encoding="utf-8")
    start, end = block_span(text)
    README.write_text(text[:start] + printed.strip() + "\n" + text[end:], encoding="utf-8")


def main() -> int:
    printed = run_demo()
    if "--write" in sys.argv[1:]:
        write_readme(printed)
        print(f"{README}: demo block rewritten")
        return 0
    diff = readme_diff(printed)
    print(diff or "README.md's demo block matches what followup demo prints")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
