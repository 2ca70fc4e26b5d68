"""Measurement 8: page extraction per site, this tree's site modules against a baseline's.

Every article page of the recorded demo copies (crawler/demo/sites) and of the generated mirror
is extracted by `Site.extract` in two child processes: one imports this tree's `crawler`, the
other the `crawler` package of a baseline commit (`git archive`, default BASELINE_REF: the
whole-document extractors before issue 16), so both sides run in the same benchmark run under the
same load, taking turns (ROUNDS each). Each page is extracted REPEATS times per round and its
fastest time kept (the least disturbed by other processes); per site the median page is reported. Both sides must give the same
articles, or the run is refused: a faster extractor that reads something else is no result.

    python -m bench.extraction PAGES.json OUT.json REPEATS   # the child: time this crawler
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.context import REPO, BenchError, Context
from bench.report import Row, markdown_table, median, ratio, seconds

# The commit whose site modules parse and scan the whole document (issue 16's "before").
BASELINE_REF = "099015a"
DEMO_SITES = REPO / "crawler" / "demo" / "sites"
REPEATS = 5
QUICK_REPEATS = 2
ROUNDS = 3
CHILD_TIMEOUT = 1800.0


@dataclass(frozen=True, slots=True)
class PageCase:
    """One article page to extract: its site, its real URL, its body on disk, where it is from."""

    site: str
    url: str
    file: str
    content_type: str
    origin: str  # "recorded" or "generated"


@dataclass(frozen=True, slots=True)
class Timing:
    """One page's fastest extraction and a digest of what it gave."""

    seconds: float
    digest: str


def measure_extraction(ctx: Context) -> list[Row]:
    """Per site and page origin: median page extraction time, this tree vs the baseline."""
    repeats = QUICK_REPEATS if ctx.options.quick else REPEATS
    pages_dir = ctx.path("extraction-pages")
    cases = recorded_cases(DEMO_SITES, pages_dir) + generated_cases(ctx, pages_dir)
    manifest = ctx.path("extraction-pages.json")
    manifest.write_text(json.dumps([asdict(case) for case in cases]), encoding="utf-8")
    baseline: dict[str, Timing] = {}
    current: dict[str, Timing] = {}
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as baseline_tree:
        export_crawler(BASELINE_REF, Path(baseline_tree))
        # The sides take turns, so a burst of load from elsewhere hits both alike.
        for _ in range(ROUNDS):
            _keep_fastest(baseline, time_pages(manifest, repeats, pythonpath=Path(baseline_tree)))
            _keep_fastest(current, time_pages(manifest, repeats, pythonpath=REPO))
    check_same_articles(cases, baseline, current)
    groups = sorted({(case.site, case.origin) for case in cases})
    rows = [_row(site, origin, cases, current, baseline) for site, origin in groups]
    ctx.sections.append(_section(cases, groups, current, baseline, repeats))
    return rows


def _keep_fastest(into: dict[str, Timing], timings: dict[str, Timing]) -> None:
    for file, timing in timings.items():
        if file not in into or timing.seconds < into[file].seconds:
            into[file] = timing


def recorded_cases(root: Path, into: Path) -> list[PageCase]:
    """The demo copies' article pages: every page a site module claims by its URL patterns."""
    from crawler.sites import SITES

    cases = []
    for manifest in sorted(root.glob("*/mirror.toml")):
        site = SITES.get(manifest.parent.name)
        entries = tomllib.loads(manifest.read_text(encoding="utf-8")).get("page", [])
        for entry in entries:
            if site is None or "file" not in entry or not site.matches_url(entry["url"]):
                continue
            body = (manifest.parent / entry["file"]).read_bytes()
            cases.append(_case(into, site.id, entry["url"], body, _type(entry), "recorded"))
    return cases


def generated_cases(ctx: Context, into: Path) -> list[PageCase]:
    """The generated mirror's article pages, each under the site structure it was written in."""
    cases = []
    for source in ctx.plan.sources:
        for urls in source.fetches.values():
            for url in urls:
                page = ctx.mirror.get_page(url)
                cases.append(
                    _case(into, source.kind, url, page.body, page.content_type, "generated")
                )
    return cases


def _case(into: Path, site: str, url: str, body: bytes, content_type: str, origin: str) -> PageCase:
    into.mkdir(parents=True, exist_ok=True)
    path = into / hashlib.sha1(f"{origin} {url}".encode()).hexdigest()
    path.write_bytes(body)
    return PageCase(site, url, str(path), content_type, origin)


def _type(entry: dict[str, str]) -> str:
    return entry.get("type", "text/html; charset=utf-8")


def baseline_available(ref: str = BASELINE_REF) -> bool:
    """True when this checkout has commit ref (a shallow clone or an export may not)."""
    result = subprocess.run(
        ["git", "cat-file", "-e", f"{ref}^{{commit}}"], cwd=REPO, capture_output=True, check=False
    )
    return result.returncode == 0


def export_crawler(ref: str, into: Path) -> None:
    """The `crawler` package of commit ref, written under into (git archive)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "crawler.tar"
    with archive.open("wb") as out:
        result = subprocess.run(
            ["git", "archive", "--format=tar", ref, "crawler"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    if result.returncode != 0:
        raise BenchError(
            f"git archive {ref} failed ({result.stderr.decode(errors='replace').strip()}); "
            "the extraction baseline needs the repository's history"
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()


def time_pages(manifest: Path, repeats: int, *, pythonpath: Path) -> dict[str, Timing]:
    """Run the timing child with pythonpath's `crawler` first on the path; file → Timing.

    The child runs in pythonpath: `python -m` puts its working directory before PYTHONPATH.
    """
    out = manifest.with_suffix(f".{pythonpath.name}.out.json")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), str(REPO)])}
    command = [sys.executable, "-m", "bench.extraction", str(manifest), str(out), str(repeats)]
    result = subprocess.run(
        command, cwd=pythonpath, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    if result.returncode != 0:
        raise BenchError(f"extraction timing with {pythonpath} failed: {result.stderr[-2000:]}")
    timings = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return {file: Timing(t["seconds"], t["digest"]) for file, t in timings.items()}


def check_same_articles(
    cases: Sequence[PageCase], baseline: dict[str, Timing], current: dict[str, Timing]
) -> None:
    """Refuse the run when a page gives another article than the baseline gave."""
    differing = [c.url for c in cases if baseline[c.file].digest != current[c.file].digest]
    if differing:
        raise BenchError(
            f"{len(differing)} pages extract differently from {BASELINE_REF}, e.g. {differing[0]}"
        )


def _row(
    site: str,
    origin: str,
    cases: Sequence[PageCase],
    current: dict[str, Timing],
    baseline: dict[str, Timing],
) -> Row:
    files = [c.file for c in cases if (c.site, c.origin) == (site, origin)]
    now = median([current[f].seconds for f in files])
    before = median([baseline[f].seconds for f in files])
    return Row(
        f"9. Page extraction, {site}, {origin} pages ({len(files)}; median page)",
        seconds(now),
        f"whole-document extraction ({BASELINE_REF}) {seconds(before)}",
        ratio(now / before),
    )


def _section(
    cases: Sequence[PageCase],
    groups: Sequence[tuple[str, str]],
    current: dict[str, Timing],
    baseline: dict[str, Timing],
    repeats: int,
) -> str:
    table = []
    for site, origin in groups:
        files = [c.file for c in cases if (c.site, c.origin) == (site, origin)]
        sizes = [Path(f).stat().st_size for f in files]
        now = [current[f].seconds for f in files]
        before = [baseline[f].seconds for f in files]
        table.append(
            (
                site,
                origin,
                str(len(files)),
                f"{median(sizes) / 1000:.0f} KB",
                seconds(median(before)),
                seconds(median(now)),
                seconds(max(before)),
                seconds(max(now)),
                ratio(median(now) / median(before)),
            )
        )
    header = (
        "site",
        "pages",
        "count",
        "median size",
        f"before ({BASELINE_REF}), median",
        "now, median",
        "before, slowest",
        "now, slowest",
        "now ÷ before",
    )
    return "\n".join(
        [
            "## 9. Page extraction per site",
            "",
            f"`Site.extract` on every article page of the recorded demo copies (crawler/demo/sites) "
            f"and of the generated mirror, in two child processes of the same run: this tree's "
            f"site modules and those of commit {BASELINE_REF} (whole-document parsing and scans), "
            f"exported with `git archive`. The two sides took turns, {ROUNDS} rounds each; each page's fastest of {ROUNDS} × {repeats} extractions; both "
            "sides gave the same article for every page (checked).",
            "",
            markdown_table(header, table),
        ]
    )


# The child ---------------------------------------------------------------------------------


def _time_page(case: dict[str, str], repeats: int) -> dict[str, object]:
    from crawler.extract import decode_body
    from crawler.model import Document
    from crawler.sites import get_site

    site = get_site(case["site"])
    body = Path(case["file"]).read_bytes()
    document = Document(case["url"], decode_body(body, case["content_type"]), case["content_type"])
    fastest, article = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        article = site.extract(document)
        fastest = min(fastest, time.perf_counter() - started)
    digest = hashlib.sha1(repr(article).encode()).hexdigest()
    return {"seconds": fastest, "digest": digest}


def main(argv: Sequence[str]) -> None:
    manifest, out, repeats = Path(argv[0]), Path(argv[1]), int(argv[2])
    cases = json.loads(manifest.read_text(encoding="utf-8"))
    timings = {case["file"]: _time_page(case, repeats) for case in cases}
    out.write_text(json.dumps(timings), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
