"""Hostile sources for tests: feeds and pages written to break a crawler, all our own text.

Each article is made of words drawn at random (seeded) from a vocabulary, plus the phrase the
default topic matches, so articles are on topic and far apart in simhash.
"""

from __future__ import annotations

import random
from email.utils import formatdate

from crawler.mirror import Mirror, Page

ON_TOPIC = "阿里与腾讯推进互联互通，淘宝接入微信支付。"
WORDS = [
    "平台",
    "用户",
    "市场",
    "监管",
    "数据",
    "支付",
    "电商",
    "物流",
    "广告",
    "流量",
    "增长",
    "合作",
    "竞争",
    "开放",
    "入口",
    "规则",
    "商家",
    "消费者",
    "链接",
    "小程序",
    "服务",
    "技术",
    "安全",
    "隐私",
    "模型",
    "算力",
    "成本",
    "价格",
    "利润",
    "渠道",
    "生态",
    "社交",
    "内容",
    "视频",
    "直播",
    "搜索",
    "推荐",
    "算法",
    "政策",
    "标准",
    "测试",
    "版本",
    "功能",
    "体验",
    "反馈",
    "调整",
    "计划",
    "季度",
    "财报",
    "投资",
    "融资",
    "估值",
    "团队",
    "产品",
    "研发",
    "芯片",
    "云端",
    "终端",
    "硬件",
    "软件",
    "开发者",
    "接口",
]
RSS = """<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0"><channel><title>hostile</title><link>{site}</link><description>d</description>
{items}
</channel></rss>"""
ITEM = """<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate>
<description>{description}</description></item>"""
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><article><h1>{title}</h1>{paragraphs}</article></body></html>"""
RECENT = formatdate(1_790_000_000, localtime=False)  # 2026-09-21, a plausible time


def story(seed: int, *, paragraphs: int = 6) -> list[str]:
    """Paragraphs of an on-topic article, different for every seed."""
    pick = random.Random(seed)
    return [
        ON_TOPIC + "".join(pick.choice(WORDS) for _ in range(40)) + "。" for _ in range(paragraphs)
    ]


def page_html(title: str, seed: int) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in story(seed))
    return PAGE.format(title=title, paragraphs=body).encode("utf-8")


def rss(
    site: str,
    items: list[tuple[str, str, str]],
    *,
    encoding: str = "utf-8",
    full_text: bool = False,
) -> str:
    """An RSS 2.0 feed of (title, link, date) items, as text: teasers, or with full_text each
    item's whole article (seeded by its position) in its description."""
    rendered = "\n".join(
        ITEM.format(
            title=title,
            link=link,
            date=date,
            description=_full_text(index) if full_text else "short teaser",
        )
        for index, (title, link, date) in enumerate(items)
    )
    return RSS.format(encoding=encoding, site=site, items=rendered)


def _full_text(seed: int) -> str:
    return "<![CDATA[" + "".join(f"<p>{p}</p>" for p in story(1000 + seed)) + "]]>"


def feed_sources(feeds: dict[str, str]) -> str:
    """sources.toml text: one generic source per id, reading the feed at its real URL (which
    write_seeds points at the mirror)."""
    return "".join(
        f'\n[[source]]\nid = "{source}"\nsite = "generic"\nfeeds = ["{{{url}}}"]\n'
        for source, url in feeds.items()
    )


def add_article(mirror: Mirror, url: str, title: str, seed: int) -> None:
    mirror.set_page(url, Page(page_html(title, seed)))


def add_feed(mirror: Mirror, url: str, body: bytes, *, charset: str = "utf-8") -> None:
    mirror.set_page(url, Page(body, f"application/rss+xml; charset={charset}"))
