"""Seeds files: what loads, and the errors that name file, entry, key and the fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from crawler.config import ConfigError, load_seeds
from crawler.dates import format_duration, parse_duration
from crawler.sites import SITES

SOURCES = """
[[source]]
id = "news"
name = "News"
site = "generic"
feeds = ["https://news.example.com/feed.xml"]
every = "15m"

[[source]]
id = "listed"
site = "generic"
lists = ["https://list.example.net/news/"]
"""
TOPICS = """
[[topic]]
id = "interop"
name = "阿里腾讯互联互通"
query = '(阿里 OR 淘宝) AND (腾讯 OR 微信)'
seeds = ["https://news.example.com/a/1.html?utm_source=x", { url = "https://news.example.com/a/2.html", site = "generic" }]
"""


def write(tmp_path: Path, sources: str = SOURCES, topics: str = TOPICS) -> Path:
    (tmp_path / "sources.toml").write_text(sources, encoding="utf-8")
    (tmp_path / "topics.toml").write_text(topics, encoding="utf-8")
    return tmp_path


def test_loads_sources_and_topics(tmp_path: Path) -> None:
    seeds = load_seeds(write(tmp_path))
    news, listed = seeds.sources
    assert (news.id, news.name, news.site, news.every) == (
        "news",
        "News",
        "generic",
        timedelta(minutes=15),
    )
    assert news.feeds == ("https://news.example.com/feed.xml",) and news.lists == ()
    assert listed.name == "listed" and listed.every == timedelta(minutes=30)
    (topic,) = seeds.topics
    assert topic.query.match("淘宝接入微信支付") == ["淘宝", "微信"]
    # Seed URLs are canonical identities.
    assert [s.url for s in topic.seeds] == [
        "https://news.example.com/a/1.html",
        "https://news.example.com/a/2.html",
    ]


def test_the_shipped_seeds_load() -> None:
    seeds = load_seeds(Path(__file__).parents[1] / "seeds")
    assert {s.site for s in seeds.sources} == set(SITES) - {"generic"}  # a source per module
    assert seeds.topics[0].seeds[0].site == "caijing"  # picked by the URL pattern


def test_select_by_id(tmp_path: Path) -> None:
    seeds = load_seeds(write(tmp_path)).select(sources=["listed"])
    assert [s.id for s in seeds.sources] == ["listed"]
    with pytest.raises(ConfigError, match=r"no source with id 'nope'; known: news, listed"):
        load_seeds(tmp_path).select(sources=["nope"])


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (
            SOURCES.replace('"15m"', '"15x"'),
            r"#1 \(id 'news'\): key 'every': '15x' is not a duration",
        ),
        (
            SOURCES.replace('id = "news"', 'id = "News!"'),
            r"key 'id': 'News!' must match \[a-z0-9_\]\+",
        ),
        (
            SOURCES.replace('site = "generic"', 'site = "nosuch"', 1),
            r"key 'site': unknown site 'nosuch'; known: .*generic",
        ),
        (
            SOURCES.replace("https://news.example.com/feed.xml", "news.example.com/feed"),
            r"key 'feeds': 'news.example.com/feed' is not an absolute",
        ),
        (
            SOURCES.replace('every = "15m"', 'evry = "15m"'),
            r"key 'evry': unknown key; allowed: every, feeds",
        ),
        (
            SOURCES.replace('lists = ["https://list.example.net/news/"]', ""),
            r"#2 \(id 'listed'\): key 'feeds': a source needs at least one URL",
        ),
        (
            SOURCES.replace('every = "15m"', 'every = "15m"\nmin_every = "20m"'),
            r"key 'min_every': must not be longer than every \(15m\)",
        ),
        (
            SOURCES.replace('every = "15m"', 'every = "15m"\nmax_every = "10m"'),
            r"key 'max_every': must not be shorter than every \(15m\)",
        ),
        (
            SOURCES.replace('every = "15m"', 'every = "15m"\nrecheck = "a day"'),
            r"key 'recheck': 'a day' is not a duration",
        ),
        (SOURCES.replace('id = "listed"', 'id = "news"'), r"source id 'news' used twice"),
        ("[[source]\nid=", r"sources.toml: not valid TOML"),
        ("", r"no \[\[source\]\] entries"),
    ],
)
def test_source_errors_name_file_entry_and_key(tmp_path: Path, sources: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_seeds(write(tmp_path, sources=sources))
    assert str(tmp_path / "sources.toml") in str(error.value)


@pytest.mark.parametrize(
    ("topics", "message"),
    [
        (
            TOPICS.replace("(阿里 OR 淘宝) AND (腾讯 OR 微信)", "(阿里 OR 淘宝 AND"),
            r"#1 \(id 'interop'\): key 'query': .*position",
        ),
        (
            TOPICS.replace('"https://news.example.com/a/1.html?utm_source=x", ', '"ftp://x", '),
            r"key 'seeds': 'ftp://x' is not an absolute",
        ),
        (
            TOPICS.replace('site = "generic"', 'site = "nosuch"'),
            r"key 'seeds': unknown site 'nosuch'",
        ),
        (TOPICS.replace("query = ", "qery = "), r"key 'qery': unknown key"),
    ],
)
def test_topic_errors_name_file_entry_and_key(tmp_path: Path, topics: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_seeds(write(tmp_path, topics=topics))
    assert str(tmp_path / "topics.toml") in str(error.value)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources.toml not found: create it or point --seeds"):
        load_seeds(tmp_path)


def test_polling_bounds_and_recheck(tmp_path: Path) -> None:
    news, listed = load_seeds(write(tmp_path)).sources
    # Unset: every / 4 up to every x 8; no re-checks.
    assert news.polling_bounds == (timedelta(minutes=15) / 4, timedelta(hours=2))
    assert listed.polling_bounds == (timedelta(minutes=30) / 4, timedelta(hours=4))
    assert news.recheck is None
    custom = SOURCES.replace(
        'every = "15m"', 'every = "15m"\nmin_every = "15m"\nmax_every = "1h"\nrecheck = "24h"'
    )
    news, _ = load_seeds(write(tmp_path, sources=custom)).sources
    assert news.polling_bounds == (timedelta(minutes=15), timedelta(hours=1))
    assert news.recheck == timedelta(hours=24)


@pytest.mark.parametrize("text", ["90s", "15m", "1h30m", "2d", "1d1s"])
def test_format_duration_reads_back(text: str) -> None:
    assert format_duration(parse_duration(text)) == ("1m30s" if text == "90s" else text)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "m", "15 minutes", "0m", "-5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
