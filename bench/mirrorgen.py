"""A generated mirror: N sources × M articles in real sites' structures, served by crawler.mirror.

Sources take turns among four site structures (36kr's full-text feed, cnBeta's teaser feed,
niaogebiji's list JSON, caijing's roll JSON); the k-th source of a kind gets hosts of its own
(www.36kr.com, www2.36kr.com, …). A share of articles is on the default topic, the rest unrelated,
and a share are reposts of another source's article (credit line, a few sentences rewritten). The
mirror is written as directories with a mirror.toml each, so `Mirror.from_directory` serves it,
and the plan records exactly which URLs a crawl requests, for the bare-Scrapy baseline.
"""

from __future__ import annotations

import json
import random
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bench import sites
from bench.furniture import Card
from bench.sites import BEIJING, Furniture, Item
from bench.textgen import BEATS, MEDIA, Story, TextGenerator
from crawler.fingerprint import NEAR_DISTANCE, fingerprint
from crawler.mirror import Mirror

KINDS = ("36kr", "cnbeta", "niaogebiji", "caijing")
SITE_NAMES = {"36kr": "36氪", "cnbeta": "cnBeta", "niaogebiji": "鸟哥笔记", "caijing": "财经网"}
BASE_TIME = datetime(2026, 11, 20, 12, 0, tzinfo=BEIJING)
MINUTES_APART = 7
# Two distinct on-topic articles at least this far apart, so no false merge muddies the counts
# (real distinct same-story pairs measured ≥ 18 bits; see README "Near-duplicates").
DISTINCT_MIN_DISTANCE = 15
REPOST_EDITS = 3
CARDS_PER_SOURCE = 240
FRIENDS_PER_SOURCE = 60
REPO = Path(__file__).resolve().parents[1]

CHANNELS = {
    "36kr": "首页 快讯 资讯 推荐 财经 AI 汽车 科技 专精特新 直播 企服 城市 创投 出海",
    "cnbeta": "首页 科技 科学 影视 游戏 趣闻 主题 手机 软件 硬件 网络 数码",
    "niaogebiji": "首页 用户运营 活动运营 新媒体运营 数据运营 营销推广 行业动态 职场成长 今日事",
    "caijing": "首页 宏观 金融 证券 产经 科技 地产 汽车 滚动 评论 财经号 视频",
}


@dataclass(frozen=True, slots=True)
class MirrorSpec:
    """What to generate."""

    sources: int = 20
    articles: int = 50  # per source
    seed: int = 1
    on_topic: float = 0.3  # share of articles on the default topic
    reposts: float = 0.1  # share of articles that are another source's article, reposted
    short_36kr: float = 0.2  # share of 36kr items whose feed carries only a summary
    min_page_bytes: int = 50_000
    max_page_bytes: int = 100_000


@dataclass(frozen=True, slots=True)
class SourcePlan:
    """One generated source: its seeds entry and the article pages a crawl of it fetches."""

    id: str
    kind: str
    feeds: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    fetches: dict[str, tuple[str, ...]] = field(default_factory=dict)  # list URL → page URLs


@dataclass(frozen=True, slots=True)
class MirrorPlan:
    """A generated mirror on disk and what a crawl of it should find."""

    root: Path
    spec: MirrorSpec
    sources: tuple[SourcePlan, ...]
    articles: int
    on_topic: int
    reposts: int
    expected_duplicates: int  # on-topic reposts within NEAR_DISTANCE of their original
    page_sizes: tuple[int, ...]  # bytes of every article page a crawl fetches

    @property
    def list_urls(self) -> list[str]:
        return [url for s in self.sources for url in (*s.feeds, *s.lists)]

    @property
    def page_urls(self) -> list[str]:
        return [url for s in self.sources for urls in s.fetches.values() for url in urls]

    def local_plan(self, mirror: Mirror) -> dict[str, list[str]]:
        """List URL → page URLs, all pointed at the running mirror (the bare spider's input)."""
        return {
            mirror.url_for(url): [mirror.url_for(page) for page in pages]
            for s in self.sources
            for url, pages in s.fetches.items()
        }

    def write_seeds(
        self,
        directory: Path,
        mirror: Mirror,
        *,
        sources: Sequence[SourcePlan] | None = None,
        keys: dict[str, str] | None = None,
    ) -> Path:
        """sources.toml pointing at the running mirror, topics.toml with the default topic.

        `sources` picks some of the plan's sources (default: all); `keys` adds string keys to
        each entry (`every = "1s"`…).
        """
        directory.mkdir(parents=True, exist_ok=True)
        more = "".join(f"{key} = {json.dumps(value)}\n" for key, value in (keys or {}).items())
        entries = []
        for source in self.sources if sources is None else sources:
            feeds = json.dumps([mirror.url_for(u) for u in source.feeds])
            lists = json.dumps([mirror.url_for(u) for u in source.lists])
            entries.append(
                f'[[source]]\nid = "{source.id}"\nname = "{source.id}"\nsite = "{source.kind}"\n'
                f"feeds = {feeds}\nlists = {lists}\n{more}"
            )
        (directory / "sources.toml").write_text("\n".join(entries), encoding="utf-8")
        (directory / "topics.toml").write_text(default_topics(), encoding="utf-8")
        return directory


def default_topics() -> str:
    """The repository's default topic (seeds/topics.toml), without its topic seeds: the
    benchmark measures polling the sources, and the seed page is not in the mirror."""
    with (REPO / "seeds" / "topics.toml").open("rb") as handle:
        topics = tomllib.load(handle)["topic"]
    return "\n".join(
        f"[[topic]]\nid = \"{t['id']}\"\nname = \"{t['name']}\"\nquery = '''{t['query']}'''\n"
        for t in topics
    )


@dataclass(slots=True)
class _Draft:
    source: int
    story: Story
    original: int | None  # index of the reposted draft


def generate_mirror(root: Path, spec: MirrorSpec) -> MirrorPlan:
    """Write the mirror under root (created) and return its plan. Same spec, same bytes."""
    rng = random.Random(spec.seed)
    text = TextGenerator(rng)
    drafts = _draft_stories(text, rng, spec)
    expected_duplicates = sum(
        1
        for d in drafts
        if d.original is not None
        and d.story.on_topic
        and (fingerprint(d.story.text) ^ fingerprint(drafts[d.original].story.text)).bit_count()
        <= NEAR_DISTANCE
    )
    plans, sizes = [], []
    for index in range(spec.sources):
        kind, instance = KINDS[index % len(KINDS)], index // len(KINDS)
        numbered = [(n, d) for n, d in enumerate(drafts) if d.source == index]
        plan, page_sizes = _write_source(root, spec, text, kind, instance, numbered, drafts)
        plans.append(plan)
        sizes += page_sizes
    return MirrorPlan(
        root=root,
        spec=spec,
        sources=tuple(plans),
        articles=len(drafts),
        on_topic=sum(d.story.on_topic for d in drafts),
        reposts=sum(d.original is not None for d in drafts),
        expected_duplicates=expected_duplicates,
        page_sizes=tuple(sizes),
    )


def _draft_stories(text: TextGenerator, rng: random.Random, spec: MirrorSpec) -> list[_Draft]:
    """Every article, sources taking turns, so a repost always comes after its original."""
    drafts: list[_Draft] = []
    distinct = np.zeros(0, dtype=np.uint64)
    for _ in range(spec.articles):
        for source in range(spec.sources):
            originals = [
                n for n, d in enumerate(drafts) if d.original is None and d.source != source
            ]
            if originals and rng.random() < spec.reposts:
                original = rng.choice(originals)
                story = text.repost(drafts[original].story, edits=REPOST_EDITS)
                drafts.append(_Draft(source, story, original))
                continue
            story, distinct = _distinct_article(text, rng.random() < spec.on_topic, distinct)
            drafts.append(_Draft(source, story, None))
    return drafts


def _distinct_article(
    text: TextGenerator, on_topic: bool, distinct: np.ndarray
) -> tuple[Story, np.ndarray]:
    """A new article; an on-topic one is redrawn while it falls near an earlier one."""
    while True:
        story = text.article(on_topic=on_topic)
        if not on_topic:
            return story, distinct
        value = np.uint64(fingerprint(story.text))
        if not len(distinct) or np.bitwise_count(distinct ^ value).min() >= DISTINCT_MIN_DISTANCE:
            return story, np.append(distinct, value)


# Sources ---------------------------------------------------------------------------------------


def _host(kind: str, instance: int, prefix: str, domain: str) -> str:
    return f"{prefix}.{domain}" if instance == 0 else f"{prefix}{instance + 1}.{domain}"


def _write_source(
    root: Path,
    spec: MirrorSpec,
    text: TextGenerator,
    kind: str,
    instance: int,
    numbered: list[tuple[int, _Draft]],
    drafts: list[_Draft],
) -> tuple[SourcePlan, list[int]]:
    writer = _SourceWriter(root / f"{kind}-{instance + 1}", spec)
    source_id = kind if instance == 0 else f"{kind}_{instance + 1}"
    writers: dict[str, Callable[..., SourcePlan]] = {
        "36kr": _write_36kr,
        "cnbeta": _write_cnbeta,
        "niaogebiji": _write_niaogebiji,
        "caijing": _write_caijing,
    }
    plan = writers[kind](writer, text, source_id, instance, numbered, drafts)
    writer.close()
    return plan, writer.fetched_sizes


class _SourceWriter:
    """Files of one source's folder and the mirror.toml naming them."""

    def __init__(self, folder: Path, spec: MirrorSpec) -> None:
        self.folder = folder
        self.spec = spec
        self.entries: list[str] = []
        self.fetched_sizes: list[int] = []

    def page(self, url: str, body: bytes, content_type: str, *, fetched: bool = False) -> None:
        path = url.split("://", 1)[1].split("?", 1)[0]
        file = self.folder / (path if not path.endswith("/") else path + "index.html")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(body)
        relative = file.relative_to(self.folder).as_posix()
        self.entries.append(
            f"[[page]]\nurl = {json.dumps(url)}\nfile = {json.dumps(relative)}\n"
            f"type = {json.dumps(content_type)}\n"
        )
        if fetched:
            self.fetched_sizes.append(len(body))

    def target(self, url: str) -> tuple[int, random.Random]:
        """A page's weight, and a random source of its own (independent of generation order)."""
        rng = random.Random(f"{self.spec.seed}:{url}")
        return rng.randint(self.spec.min_page_bytes, self.spec.max_page_bytes), rng

    def close(self) -> None:
        (self.folder / "mirror.toml").write_text("\n".join(self.entries), encoding="utf-8")


def _items(
    numbered: list[tuple[int, _Draft]],
    drafts: list[_Draft],
    text: TextGenerator,
    kind: str,
    url_of: Callable[[int], str],
    first_number: int,
) -> Iterator[Item]:
    total = len(drafts)
    for n, draft in numbered:
        number = first_number + n
        published = BASE_TIME - timedelta(minutes=MINUTES_APART * (total - n))
        credit = ""
        if draft.original is not None:
            original_site = SITE_NAMES[KINDS[drafts[draft.original].source % len(KINDS)]]
            if kind in ("36kr", "niaogebiji"):
                credit = text.credit(SITE_NAMES[kind], draft.story.title)
            else:
                credit = original_site
        yield Item(draft.story, number, url_of(number), published, credit)


def _furniture(
    text: TextGenerator, kind: str, host: str, card_url: Callable[[int], str], seed_number: int
) -> Furniture:
    beats = list(BEATS)
    cards = tuple(
        Card(
            url=card_url(seed_number - 1000 - n),
            title=text.headline(beats[n % len(beats)]),
            summary=text.short_line(beats[n % len(beats)]),
            author=text.person(),
            image=f"https://img.example-cdn.com/{kind}/{seed_number - n:x}.jpg",
            time=f"2026-11-{1 + n % 19:02d} {n % 24:02d}:{n * 7 % 60:02d}",
        )
        for n in range(CARDS_PER_SOURCE)
    )
    names = CHANNELS[kind].split()
    channels = tuple((f"https://{host}/channel/{n}", name) for n, name in enumerate(names))
    nouns = [noun for beat in BEATS.values() for noun in beat["noun"]]
    subchannels = tuple(
        tuple(
            (f"https://{host}/channel/{c}/{s}", noun)
            for s, noun in enumerate(text.rng.sample(nouns, 8))
        )
        for c in range(len(names))
    )
    friends = tuple(
        (
            f"https://www.partner{n:03d}.com/",
            MEDIA[n % len(MEDIA)] if n < len(MEDIA) else text.person() + "说",
        )
        for n in range(FRIENDS_PER_SOURCE)
    )
    return Furniture(host, cards, channels, subchannels, friends)


def _write_36kr(
    w: _SourceWriter,
    text: TextGenerator,
    source_id: str,
    instance: int,
    numbered: list[tuple[int, _Draft]],
    drafts: list[_Draft],
) -> SourcePlan:
    host = _host("36kr", instance, "www", "36kr.com")
    first = 3_913_000_000_000_000 + instance * 10_000_000
    items = []
    for item in _items(numbered, drafts, text, "36kr", lambda n: f"https://{host}/p/{n}", first):
        _, rng = w.target(item.url)
        items.append(
            Item(
                item.story,
                item.number,
                item.url,
                item.published,
                item.credit,
                rng.random() < w.spec.short_36kr,
            )
        )
    furniture = _furniture(text, "36kr", host, lambda n: f"https://{host}/p/{n}", first)
    feed = f"https://{host}/feed"
    w.page(feed, sites.kr36_feed(host, items), "application/xml; charset=utf-8")
    for item in items:
        target, rng = w.target(item.url)
        body = sites.kr36_page(item, furniture, target, encrypt=rng.random() < 0.5)
        w.page(item.url, body, "text/html; charset=utf-8", fetched=item.short)
    return SourcePlan(
        source_id, "36kr", feeds=(feed,), fetches={feed: tuple(i.url for i in items if i.short)}
    )


def _write_cnbeta(
    w: _SourceWriter,
    text: TextGenerator,
    source_id: str,
    instance: int,
    numbered: list[tuple[int, _Draft]],
    drafts: list[_Draft],
) -> SourcePlan:
    host = _host("cnbeta", instance, "www", "cnbeta.com.tw")
    first = 1_592_000 + instance * 100_000

    def url_of(number: int) -> str:
        beat = drafts[number - first].story.beat if 0 <= number - first < len(drafts) else "interop"
        return f"https://{host}/articles/{sites.CNBETA_CATEGORIES[beat]}/{number}.htm"

    items = list(_items(numbered, drafts, text, "cnbeta", url_of, first))
    furniture = _furniture(
        text, "cnbeta", host, lambda n: f"https://{host}/articles/tech/{n}.htm", first
    )
    feed = f"https://{host}/backend.php"
    w.page(feed, sites.cnbeta_feed(host, items), "text/xml; charset=utf-8")
    for item in items:
        target, _ = w.target(item.url)
        w.page(
            item.url,
            sites.cnbeta_page(item, furniture, target),
            "text/html; charset=utf-8",
            fetched=True,
        )
    return SourcePlan(
        source_id, "cnbeta", feeds=(feed,), fetches={feed: tuple(i.url for i in items)}
    )


def _write_niaogebiji(
    w: _SourceWriter,
    text: TextGenerator,
    source_id: str,
    instance: int,
    numbered: list[tuple[int, _Draft]],
    drafts: list[_Draft],
) -> SourcePlan:
    host = _host("niaogebiji", instance, "www", "niaogebiji.com")
    first = 215_100 + instance * 100_000

    def url_of(number: int) -> str:
        return f"https://{host}/article-{number}-1.html"

    items = list(_items(numbered, drafts, text, "niaogebiji", url_of, first))
    furniture = _furniture(text, "niaogebiji", host, url_of, first)
    listing = f"https://{host}/pc/index/getMoreArticle"
    w.page(listing, sites.niaogebiji_list(items), "application/json; charset=utf-8")
    for item in items:
        target, _ = w.target(item.url)
        w.page(
            item.url,
            sites.niaogebiji_page(item, furniture, target),
            "text/html; charset=utf-8",
            fetched=True,
        )
    return SourcePlan(
        source_id, "niaogebiji", lists=(listing,), fetches={listing: tuple(i.url for i in items)}
    )


def _write_caijing(
    w: _SourceWriter,
    text: TextGenerator,
    source_id: str,
    instance: int,
    numbered: list[tuple[int, _Draft]],
    drafts: list[_Draft],
) -> SourcePlan:
    channels = (
        _host("caijing", instance, "tech", "caijing.com.cn"),
        _host("caijing", instance, "finance", "caijing.com.cn"),
    )
    first = 5_129_000 + instance * 100_000
    total = len(drafts)

    def url_of(number: int) -> str:
        day = BASE_TIME - timedelta(minutes=MINUTES_APART * (total - (number - first)))
        return f"https://{channels[number // 7 % 2]}/{day:%Y%m%d}/{number}.shtml"

    items = list(_items(numbered, drafts, text, "caijing", url_of, first))
    furniture = _furniture(
        text, "caijing", channels[0], lambda n: f"https://{channels[0]}/20261101/{n}.shtml", first
    )
    roll = f"https://{_host('caijing', instance, 'roll', 'caijing.com.cn')}/json/lists1.json"
    w.page(roll, sites.caijing_roll(items), "text/html; charset=utf-8")
    for item in items:
        target, rng = w.target(item.url)
        gbk = rng.random() < 0.2  # older channels still serve GBK, labelled only in <meta>
        body = sites.caijing_page(item, furniture, target, gbk=gbk)
        w.page(item.url, body, "text/html" if gbk else "text/html; charset=utf-8", fetched=True)
    return SourcePlan(
        source_id, "caijing", lists=(roll,), fetches={roll: tuple(i.url for i in items)}
    )
