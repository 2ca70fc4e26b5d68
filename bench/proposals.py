"""What the profile points at, measured: each proposed change against the code as it stands.

    .venv/bin/python -m bench.proposals [--sources N] [--articles M] [--seed S]

Generates the benchmark's mirror (the same bytes as `python -m bench` with these options), extracts its
pages and feeds with followup's own code, and times, on those inputs, the current code path and
the proposed one — written here, beside the measurement, never in crawler/ — checking that both
give the same result. Timings are the best of several rounds (this machine is shared and noisy).
The saving per article averages each proposal over the mirror's mix of sources and articles.
Once a proposal is applied in crawler/, its two columns here measure the same code.
"""

from __future__ import annotations

import argparse
import functools
import re
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector

from bench.mirrorgen import MirrorPlan, MirrorSpec, generate_mirror
from bench.report import markdown_table
from crawler.config import load_seeds
from crawler.extract import decode_body, extract_article
from crawler.feeds import _item_from_entry, parse_feed
from crawler.fingerprint import title_key
from crawler.model import Article, Document
from crawler.sites import Site, get_site, kr36, niaogebiji
from crawler.store import Store
from crawler.text import compact, normalize

ROUNDS = 5
_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Proposal:
    """One change: its cost now and with the change, per item it touches, and how many it touches."""

    name: str
    where: str
    now: float  # seconds per affected item
    proposed: float
    affected: float  # affected items per article of the mirror

    @property
    def saving_per_article(self) -> float:
        return (self.now - self.proposed) * self.affected


def best_time(call: Callable[[Any], Any], inputs: list[Any], rounds: int = ROUNDS) -> float:
    """Seconds per input, the best of `rounds` passes over all inputs (0 without inputs)."""
    if not inputs:
        return 0.0
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for item in inputs:
            call(item)
        best = min(best, time.perf_counter() - start)
    return best / len(inputs)


# Inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Served:
    """A mirror file as the crawl receives it."""

    kind: str
    url: str
    body: bytes
    content_type: str


def served_files(root: Path) -> Iterator[Served]:
    for manifest in sorted(root.rglob("mirror.toml")):
        kind = manifest.parent.name.split("-")[0]
        for entry in tomllib.loads(manifest.read_text(encoding="utf-8")).get("page", []):
            body = (manifest.parent / entry["file"]).read_bytes()
            yield Served(kind, entry["url"], body, entry["type"])


def fetched_pages(plan: MirrorPlan, root: Path) -> dict[str, list[Document]]:
    """Article pages a crawl fetches, decoded, by site."""
    wanted = set(plan.page_urls)
    pages: dict[str, list[Document]] = {}
    for served in served_files(root):
        if served.url in wanted:
            text = decode_body(served.body, served.content_type)
            pages.setdefault(served.kind, []).append(
                Document(served.url, text, served.content_type)
            )
    return pages


# The proposals ---------------------------------------------------------------------------------

# Where each site's article starts and where the furniture after it begins (the recorded copies'
# markup); the proposed extraction parses <head> plus this region, the whole page when a marker is
# missing.
REGIONS = {
    "cnbeta": ('<div class="cnbeta-article">', '<div class="article-relation">'),
    "niaogebiji": ('<div class="articleHeader">', '<div class="articleTags">'),
    "caijing": ('<div class="article">', '<div class="xgyd">'),
}


def article_region(document: Document, start: str, end: str) -> Document:
    """<head> and the article's region of a page, or the page itself when a marker is missing."""
    text = document.text
    begin = text.find(start)
    finish = text.find(end, begin) if begin >= 0 else -1
    body = text.find("<body")
    if min(begin, finish, body) < 0:
        return document
    region = text[:body] + "<body>" + text[begin:finish] + "</body></html>"
    return Document(document.url, region, document.content_type)


def normalise_once(plan: MirrorPlan, articles: list[tuple[Article, bool, bool]]) -> Proposal:
    """crawler/text.py: NFKC over a whole article 3–5 times per article, once would do."""
    query = load_seeds(Path(__file__).resolve().parents[1] / "seeds").topics[0].query

    def now(item: tuple[Article, bool, bool]) -> None:
        article, from_page, on_topic = item
        if from_page:
            compact(article.text)  # extract._site_article: MIN_ARTICLE_CHARS
            compact(article.text)  # extract.blocked_reason
        query.match(normalize(f"{article.title}\n{article.text}"))  # ingest.match_topics
        if on_topic:
            compact(article.text)  # fingerprint.is_newsflash
            compact(article.text)  # fingerprint.fingerprint
            title_key(article.title)

    def proposed(item: tuple[Article, bool, bool]) -> list[str] | None:
        article, _, on_topic = item
        text = normalize(article.text)  # once, e.g. functools.lru_cache on normalize
        matched = query.match(f"{normalize(article.title)}\n{text}")
        "".join(_WORD_RE.findall(text))  # compact() of the cached normalisation, used 2–4 times
        if on_topic:
            title_key(article.title)
        return matched

    for article, _, _ in articles:
        whole = query.match(normalize(f"{article.title}\n{article.text}"))
        assert proposed((article, True, False)) == whole, article.url

    return Proposal(
        "Normalise each article's text once (cache `normalize`/`compact`, or pass the compact text on)",
        "crawler/text.py, extract.py, ingest.py, fingerprint.py",
        best_time(now, articles),
        best_time(proposed, articles),
        1.0,
    )


def feeds_unsanitised(plan: MirrorPlan, root: Path) -> Proposal:
    """crawler/feeds.py: feedparser sanitises and resolves the HTML that lxml reads again anyway."""
    feeds = [
        s
        for s in served_files(root)
        if s.url in set(plan.list_urls) and s.kind in ("36kr", "cnbeta")
    ]

    def proposed(feed: Served) -> list[Any]:
        headers = {"content-location": feed.url, "content-type": feed.content_type}
        parsed = feedparser.parse(
            feed.body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
        return [_item_from_entry(e) for e in parsed.entries]

    for feed in feeds:
        site = get_site(feed.kind)
        # The same articles either way: the descriptions are only ever read by lxml.
        ours = parse_feed(feed.body, url=feed.url, content_type=feed.content_type).items
        articles = [site.feed_article(site.parse_feed_item(i)) for i in ours]
        theirs = [
            site.feed_article(site.parse_feed_item(i)) for i in proposed(feed) if i is not None
        ]
        assert articles == theirs, f"{feed.url}: different articles without sanitising"
    return Proposal(
        "Parse feeds with `sanitize_html=False, resolve_relative_uris=False` (same articles: the HTML is only "
        "ever turned into text by lxml)",
        "crawler/feeds.py parse_feed",
        best_time(lambda f: parse_feed(f.body, url=f.url, content_type=f.content_type), feeds, 9),
        best_time(proposed, feeds, 9),
        len(feeds) / plan.articles,
    )


@functools.cache
def _compiled_css(expression: str, translator: str) -> CSSSelector:
    return CSSSelector(expression, translator=translator)


def cnbeta_compiled_css(plan: MirrorPlan, pages: list[Document]) -> Proposal:
    """crawler/sites/cnbeta.py: ~24 `cssselect()` calls per page, each translating CSS to XPath anew.

    Measured on the article regions, on top of `parse_article_region`.
    """
    site = get_site("cnbeta")
    pages = [article_region(p, *REGIONS["cnbeta"]) for p in pages]
    now = best_time(site.extract, pages)
    expected = [site.extract(p) for p in pages]
    original = lxml.html.HtmlMixin.cssselect

    def cached(self: Any, expr: str, translator: str = "html") -> Any:
        return _compiled_css(expr, translator)(self)

    lxml.html.HtmlMixin.cssselect = cached
    try:
        assert [site.extract(p) for p in pages] == expected
        proposed = best_time(site.extract, pages)
    finally:
        lxml.html.HtmlMixin.cssselect = original
    return Proposal(
        "cnBeta: compile the CSS selectors once (module-level `CSSSelector`s) instead of `element.cssselect(...)` "
        "(on top of the region parsing)",
        "crawler/sites/cnbeta.py",
        now,
        proposed,
        len(pages) / plan.articles,
    )


def kr36_state_first(plan: MirrorPlan, pages: list[Document]) -> Proposal:
    """crawler/sites/kr36.py: the whole page is parsed into a DOM before the state is even read."""
    site = get_site("36kr")
    readable = [p for p in pages if kr36._state_article(p) is not None]
    assert [kr36._state_article(p) for p in readable] == [site.extract(p) for p in readable]
    return Proposal(
        "36kr: read `window.initialState` first and parse the DOM only when it fails (or lacks the title)",
        "crawler/sites/kr36.py Kr36Site.extract",
        best_time(site.extract, readable),
        best_time(lambda p: kr36._state_article(p), readable),
        len(readable) / plan.articles,
    )


def niaogebiji_body_by_tag(plan: MirrorPlan, pages: list[Document]) -> Proposal:
    """crawler/sites/niaogebiji.py: `//*[contains(concat(…@class…))]` tests every element's class.

    Measured on the article regions, on top of `parse_article_region`.
    """
    regions = [article_region(p, *REGIONS["niaogebiji"]) for p in pages]
    roots = [lxml.html.document_fromstring(p.text) for p in regions]
    now_xpath = etree.XPath(niaogebiji.BODY_XPATH)
    by_tag = etree.XPath(
        "/descendant::div[contains(concat(' ', normalize-space(@class), ' '), ' pc_content ')]"
    )
    assert [now_xpath(r) for r in roots] == [by_tag(r) for r in roots]
    return Proposal(
        "niaogebiji: look for `.pc_content` among `div`s only (`/descendant::div[…]`), as every layout has it "
        "(on top of the region parsing)",
        "crawler/sites/niaogebiji.py BODY_XPATH",
        best_time(now_xpath, roots),
        best_time(by_tag, roots),
        len(pages) / plan.articles,
    )


def _region_extract(site: Site, start: str, end: str) -> Callable[[Document], Article | None]:
    def extract(document: Document) -> Article | None:
        return site.extract(article_region(document, start, end))

    return extract


def parse_article_region(plan: MirrorPlan, pages: dict[str, list[Document]]) -> Proposal:
    """Site modules parse a whole 50–100 KB page to read the tenth of it that is the article."""
    now, proposed, count = 0.0, 0.0, 0
    for kind, (start, end) in REGIONS.items():
        site, documents = get_site(kind), pages[kind]
        regions = [article_region(d, start, end) for d in documents]
        assert [site.extract(d) for d in documents] == [site.extract(r) for r in regions]
        now += best_time(site.extract, documents) * len(documents)
        proposed += best_time(_region_extract(site, start, end), documents) * len(documents)
        count += len(documents)
    return Proposal(
        "cnBeta, niaogebiji, caijing: parse `<head>` plus the article's region (found by two markers of the "
        "site's layout, the whole page when one is missing) instead of the whole page",
        "crawler/sites/{cnbeta,niaogebiji,caijing}.py extract",
        now / count,
        proposed / count,
        count / plan.articles,
    )


def seen_rows_batched(plan: MirrorPlan, unrelated: int, directory: Path) -> Proposal:
    """crawler/store.py: every unrelated article's `seen` row is a write transaction of its own."""
    store = Store.open(directory / "seen.db")
    urls = [f"https://bench.example/seen/{n}" for n in range(2_000)]
    start = time.perf_counter()
    for url in urls[:1_000]:
        store.save_seen(url, "bench", "irrelevant")
    now = (time.perf_counter() - start) / 1_000
    start = time.perf_counter()
    with store.transaction():
        for url in urls[1_000:]:
            store.save_seen(url, "bench", "irrelevant")
    proposed = (time.perf_counter() - start) / 1_000
    store.close()
    return Proposal(
        "Record unrelated articles' `seen` rows in batches (one transaction per response or per N rows)",
        "crawler/store.py save_seen, pipelines.py",
        now,
        proposed,
        unrelated / plan.articles,
    )


# The report ------------------------------------------------------------------------------------


def extracted_articles(
    plan: MirrorPlan, root: Path, pages: dict[str, list[Document]]
) -> list[tuple[Article, bool, bool]]:
    """(article, came from a page, on topic) for every article of the mirror, as the crawl sees it."""
    query = load_seeds(Path(__file__).resolve().parents[1] / "seeds").topics[0].query
    found: list[tuple[Article, bool, bool]] = []
    for kind, documents in pages.items():
        site = get_site(kind)
        for document in documents:
            article = extract_article(site, document)
            assert isinstance(article, Article), f"{document.url}: {article}"
            found.append(
                (
                    article,
                    True,
                    query.match(normalize(f"{article.title}\n{article.text}")) is not None,
                )
            )
    for feed in served_files(root):
        if feed.kind == "36kr" and feed.url in set(plan.list_urls):
            site = get_site("36kr")
            for item in parse_feed(feed.body, url=feed.url, content_type=feed.content_type).items:
                from_feed = site.feed_article(site.parse_feed_item(item))
                if from_feed is not None:
                    text = normalize(f"{from_feed.title}\n{from_feed.text}")
                    found.append((from_feed, False, query.match(text) is not None))
    return found


def measure(plan: MirrorPlan, root: Path, workdir: Path) -> list[Proposal]:
    pages = fetched_pages(plan, root)
    articles = extracted_articles(plan, root, pages)
    unrelated = sum(not on_topic for _, _, on_topic in articles)
    return [
        parse_article_region(plan, pages),
        normalise_once(plan, articles),
        feeds_unsanitised(plan, root),
        cnbeta_compiled_css(plan, pages["cnbeta"]),
        kr36_state_first(plan, pages.get("36kr", [])),
        niaogebiji_body_by_tag(plan, pages["niaogebiji"]),
        seen_rows_batched(plan, unrelated, workdir),
    ]


def table(proposals: Iterable[Proposal]) -> str:
    rows = [
        (
            p.name,
            p.where,
            f"{p.now * 1e3:.3f} → {p.proposed * 1e3:.3f}",
            f"{p.affected:.3f}",
            f"{p.saving_per_article * 1e3:.3f}",
        )
        for p in proposals
    ]
    return markdown_table(
        (
            "proposal",
            "where",
            "ms per affected item, now → proposed",
            "affected per article",
            "saving, ms per article",
        ),
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.proposals", description=__doc__.split("\n")[0]
    )
    default = MirrorSpec()
    parser.add_argument("--sources", type=int, default=default.sources)
    parser.add_argument("--articles", type=int, default=default.articles)
    parser.add_argument("--seed", type=int, default=default.seed)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="followup-proposals-") as scratch:
        workdir = Path(scratch)
        spec = MirrorSpec(sources=args.sources, articles=args.articles, seed=args.seed)
        root = workdir / "mirror"
        plan = generate_mirror(root, spec)
        proposals = measure(plan, root, workdir)
        print(table(proposals))
        total = sum(p.saving_per_article for p in proposals)
        print(f"\nAll together: {total * 1e3:.2f} ms per article.")


if __name__ == "__main__":
    main()
