"""Where a crawl's CPU goes: cProfile self time grouped by what the code does.

Every function's self time goes to one group, chosen by its module (and, inside followup, by
function). Builtins, numpy and the standard library have no group of their own: their self time
is handed to their callers in proportion to the time each caller spent in them, so a regular
expression search counts where it was called from (the blocked check, the query, Scrapy…). The
groups add up to the whole profile.

cProfile slows Python-heavy code more than C-heavy code, so the profiled milliseconds are larger
than the real ones and the shares are only approximately those of an unprofiled crawl.
"""

from __future__ import annotations

import pstats
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import markdown_table

Func = tuple[str, int, str]  # (file, line, function name), as pstats keys them

OTHER = "other (interpreter, unattributed)"
# cProfile's clock is wall time: time blocked in the event loop's poll is waiting, not CPU.
IDLE = "idle: waiting in epoll (not CPU, left out of the totals)"
# followup's shared text helpers: their time counts where they are called from.
TRANSPARENT = frozenset({("crawler/text.py", "normalize"), ("crawler/text.py", "compact")})
# Groups in the order of a crawl. Each rule: (group, test of (normalised file, function)).
RULES: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    (
        "start-up (imports)",
        lambda f, n: n == "<module>" or "importlib" in f or f.startswith("<frozen"),
    ),
    (
        "feed parsing (feedparser)",
        lambda f, n: "/feedparser/" in f or "sgmllib" in f or f.endswith("crawler/feeds.py"),
    ),
    (
        "list parsing (JSON and list pages)",
        lambda f, n: (
            f.endswith("crawler/listing.py")
            or (
                "crawler/sites/" in f
                and n
                in {
                    "parse_list",
                    "_record_entries",
                    "_roll_entries",
                    "_listing_entries",
                    "_card_entries",
                    "parse_article_list",
                    "parse_list_time",
                }
            )
        ),
    ),
    (
        "charset decoding",
        lambda f, n: (
            f.endswith("w3lib/encoding.py")
            or (f.endswith("crawler/extract.py") and n in {"decode_body", "_detect_encoding"})
        ),
    ),
    ("blocked check", lambda f, n: f.endswith("crawler/extract.py") and n == "blocked_reason"),
    (
        "HTML parsing and extraction (lxml, parsel, site modules)",
        lambda f, n: (
            any(
                p in f
                for p in (
                    "/lxml/",
                    "/parsel/",
                    "/cssselect/",
                    "crawler/sites/",
                    "/trafilatura/",
                    "/htmldate/",
                    "/justext/",
                    "/courlan/",
                    "/cryptography/",
                )
            )
            or f.endswith("crawler/text.py")
            or f.endswith("crawler/extract.py")
        ),
    ),
    (
        "topic matching (normalise, query)",
        lambda f, n: (
            f.endswith("crawler/query.py")
            or (f.endswith("crawler/ingest.py") and n == "match_topics")
        ),
    ),
    (
        "fingerprint (simhash)",
        lambda f, n: (
            f.endswith("crawler/fingerprint.py")
            or (f.endswith("crawler/ingest.py") and n == "signature_of")
        ),
    ),
    (
        "SQLite reads and writes",
        lambda f, n: f.endswith("crawler/store.py") or "/sqlite_utils/" in f or "/sqlite3/" in f,
    ),
    (
        "URLs and dates",
        lambda f, n: f.endswith(("crawler/urls.py", "crawler/dates.py")) or "/dateutil/" in f,
    ),
    (
        "followup spider and pipeline glue",
        lambda f, n: "/crawler/" in f and "site-packages" not in f,
    ),
    (
        "Scrapy, Twisted, logging",
        lambda f, n: any(
            p in f
            for p in (
                "/scrapy/",
                "/twisted/",
                "/zope/",
                "/w3lib/",
                "/itemadapter/",
                "/queuelib/",
                "/protego/",
                "/OpenSSL/",
                "/hyperlink/",
                "/automat/",
                "/attr/",
                "/logging/",
                "/bench/bare.py",
            )
        ),
    ),
)
# Followup's own steps, cumulative (they nest, so these do not add up).
STEPS: tuple[tuple[str, str, str], ...] = (
    ("spider: read a feed", "crawler/spiders/followup.py", "parse_feed"),
    ("spider: read a list", "crawler/spiders/followup.py", "parse_list"),
    ("spider: read an article page", "crawler/spiders/followup.py", "parse_page"),
    ("  decode the page", "crawler/extract.py", "decode_body"),
    # extract_page: what the spider calls since the health counters (extract_article wraps it).
    ("  extract the article", "crawler/extract.py", "extract_page"),
    ("    by the site module", "crawler/extract.py", "_site_article"),
    ("    blocked check", "crawler/extract.py", "blocked_reason"),
    ("spider: follow a list's entries", "crawler/spiders/followup.py", "_follow"),
    ("  known URLs (store.get_known)", "crawler/store.py", "get_known"),
    ("  full-text feed item to article (36kr)", "crawler/sites/kr36.py", "feed_article"),
    ("pipeline: one item", "crawler/pipelines.py", "process_item"),
    ("  match topics", "crawler/ingest.py", "match_topics"),
    ("  fingerprint and sketch", "crawler/ingest.py", "signature_of"),
    ("  find the original", "crawler/store.py", "find_original"),
    ("  store the article", "crawler/store.py", "save_article"),
    ("  record an unrelated URL", "crawler/store.py", "save_seen"),
)
TOP_FUNCTIONS = 25


Stats = dict[Func, tuple[Any, ...]]  # func → (primitive calls, calls, self, cumulative, callers)


def load(path: Path) -> Stats:
    stats: Stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    return stats


def group_of(func: Func) -> str | None:
    """The group a function's own time belongs to, or None to hand it to its callers."""
    file, _, name = func
    file = file.replace("\\", "/")
    if file == "~" and "of 'select." in name:
        return IDLE
    if file == "~" or any(file.endswith(f) and name == n for f, n in TRANSPARENT):
        return None
    for group, test in RULES:
        if test(file, name):
            return group
    return None


def grouped_self_time(stats: Stats) -> dict[str, dict[Func, float]]:
    """Seconds of self time per group and function, builtins and stdlib handed to their callers
    (a builtin's time shows under the builtin's name in the group of its callers)."""
    memo: dict[Func, dict[str, float]] = {}
    active: set[Func] = set()

    def shares(func: Func) -> dict[str, float] | None:
        if func in memo:
            return memo[func]
        own = group_of(func)
        if own is not None:
            return {own: 1.0}
        if func in active:
            return None  # recursion: weigh the other callers
        active.add(func)
        callers = stats.get(func, (0, 0, 0, 0, {}))[4]
        result: dict[str, float] = defaultdict(float)
        weights = 0.0
        for caller, timing in callers.items():
            caller_shares = shares(caller)
            if caller_shares is None:
                continue
            weight = timing[3] or 1e-12
            weights += weight
            for group, fraction in caller_shares.items():
                result[group] += weight * fraction
        active.discard(func)
        final = {g: v / weights for g, v in result.items()} if weights else {OTHER: 1.0}
        memo[func] = final
        return final

    totals: dict[str, dict[Func, float]] = defaultdict(lambda: defaultdict(float))
    for func, (_, _, self_time, _, _) in stats.items():
        for group, fraction in (shares(func) or {OTHER: 1.0}).items():
            totals[group][func] += self_time * fraction
    return totals


def cumulative(stats: Stats, file_suffix: str, name: str) -> float:
    return sum(
        v[3]
        for k, v in stats.items()
        if k[0].replace("\\", "/").endswith(file_suffix) and k[2] == name
    )


def top_functions(stats: Stats, count: int) -> list[tuple[Func, int, float, float]]:
    ranked = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:count]
    return [(func, value[1], value[2], value[3]) for func, value in ranked]


def _where(func: Func) -> str:
    file, line, name = func
    if file == "~":
        return name
    for marker in ("site-packages/", "/lib/python3", "/wt-bench/", "/work/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{file}:{line} {name}"


def _contributors(
    ours: dict[Func, float], bare: dict[Func, float], ms: float, count: int = 5
) -> str:
    growth = {func: ours.get(func, 0.0) - bare.get(func, 0.0) for func in ours.keys() | bare.keys()}
    ranked = sorted(growth.items(), key=lambda item: item[1], reverse=True)[:count]
    return "; ".join(f"{_where(func)} {value * ms:+.2f}" for func, value in ranked if value > 0)


def report(
    ours_file: Path,
    bare_file: Path,
    *,
    articles: int,
    unprofiled_cpu: tuple[float, float],
    profiled_cpu: tuple[float, float],
) -> str:
    """The profile section of docs/benchmarks.md."""
    ours, bare = load(ours_file), load(bare_file)
    ours_by_func, bare_by_func = grouped_self_time(ours), grouped_self_time(bare)
    ours_groups = {g: sum(funcs.values()) for g, funcs in ours_by_func.items() if g != IDLE}
    bare_groups = {g: sum(funcs.values()) for g, funcs in bare_by_func.items() if g != IDLE}
    ours_idle, bare_idle = (sum(by.get(IDLE, {}).values()) for by in (ours_by_func, bare_by_func))
    ours_total, bare_total = sum(ours_groups.values()), sum(bare_groups.values())
    scale = unprofiled_cpu[0] / ours_total
    ms = 1e3 / articles
    groups = [g for g, _ in RULES] + [OTHER]
    rows = []
    for group in groups:
        mine, theirs = ours_groups.get(group, 0.0), bare_groups.get(group, 0.0)
        if mine == theirs == 0:
            continue
        rows.append(
            (
                group,
                f"{mine * ms:.2f}",
                f"{mine / ours_total:.1%}",
                f"{theirs * ms:.2f}",
                f"{(mine - theirs) * ms:+.2f}",
                f"{(mine - theirs) * ms * scale:+.2f}",
            )
        )
    rows.append((IDLE, f"{ours_idle * ms:.2f}", "—", f"{bare_idle * ms:.2f}", "—", "—"))
    rows.append(
        (
            "**total**",
            f"{ours_total * ms:.2f}",
            "100%",
            f"{bare_total * ms:.2f}",
            f"{(ours_total - bare_total) * ms:+.2f}",
            f"{(ours_total - bare_total) * ms * scale:+.2f}",
        )
    )
    contributors = [
        (group, _contributors(ours_by_func.get(group, {}), bare_by_func.get(group, {}), ms))
        for group in groups
        if ours_groups.get(group, 0.0) - bare_groups.get(group, 0.0) > 0.05 / ms
    ]
    steps = [
        (
            label,
            f"{cumulative(ours, suffix, name) * ms:.2f}",
            f"{cumulative(ours, suffix, name) * ms * scale:.2f}",
        )
        for label, suffix, name in STEPS
    ]
    top = [
        (_where(func), str(calls), f"{self_time * ms:.3f}", f"{cum * ms:.3f}")
        for func, calls, self_time, cum in top_functions(ours, TOP_FUNCTIONS + 1)
        if group_of(func) != IDLE
    ][:TOP_FUNCTIONS]
    return "\n".join(
        [
            "## Profile: where followup's CPU goes per article, beyond bare Scrapy",
            "",
            f"One more crawl of each side under cProfile (`python -m cProfile -o … -m crawler crawl …`). "
            f"Profiled CPU: followup {profiled_cpu[0]:.2f} s, bare Scrapy {profiled_cpu[1]:.2f} s "
            f"(unprofiled medians {unprofiled_cpu[0]:.2f} s and {unprofiled_cpu[1]:.2f} s). Milliseconds per "
            f"article over the {articles} articles; self time grouped by what the code does, builtins and the "
            "standard library counted where they were called from. cProfile's clock is wall time: time "
            "blocked in the event loop's poll is shown apart as idle, and the totals also hold time the "
            "crawl was ready to run but not running (two cores shared with the mirror server), so they "
            "exceed the CPU times; the shares are what counts. The last column scales the differences to "
            f"the unprofiled CPU of the followup crawl (× {scale:.2f}), an estimate: cProfile slows "
            "Python-heavy code more than C-heavy code.",
            "",
            markdown_table(
                (
                    "group",
                    "followup ms/article (profiled)",
                    "share",
                    "bare Scrapy ms/article (profiled)",
                    "difference",
                    "difference, scaled to unprofiled",
                ),
                rows,
            ),
            "",
            "What makes each group's difference: the functions whose self time grew most over bare Scrapy's "
            "(ms per article, profiled; a builtin is listed under the group of its callers):",
            "",
            markdown_table(("group", "largest contributors to the difference"), contributors),
            "",
            "Followup's own steps, cumulative (nested, so they do not add up), ms per article:",
            "",
            markdown_table(("step", "profiled", "scaled to unprofiled"), steps),
            "",
            f"The {TOP_FUNCTIONS} functions with the most self time in the followup crawl (ms per article, profiled):",
            "",
            markdown_table(("function", "calls", "self", "cumulative"), top),
        ]
    )


if __name__ == "__main__":  # python -m bench.profile FOLLOWUP.prof BARE.prof ARTICLES
    print(
        report(
            Path(sys.argv[1]),
            Path(sys.argv[2]),
            articles=int(sys.argv[3]),
            unprofiled_cpu=(1.0, 1.0),
            profiled_cpu=(1.0, 1.0),
        )
    )
