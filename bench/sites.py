"""Feeds, lists and article pages in four real sites' structures, at real page weight.

Each renderer follows the recorded copy of its site in crawler/demo/sites/<site>/ (the markup the
site modules read) and surrounds the article with that site's kind of furniture (bench/furniture.py)
until the page weighs what its `target` asks, 50–100 KB. The list-shaped furniture grows one entry at
a time, so a page is never padded with anything a real page would not carry.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bench.furniture import (
    AD_SLOT_JS,
    ANALYTICS_JS,
    COMMENT_TEMPLATE,
    JQUERY_WIDGETS_JS,
    WEBPACK_RUNTIME_JS,
    Card,
    esc,
    friendly_links,
    links,
    menu,
    script,
)
from bench.textgen import Block, Story
from crawler.sites.kr36 import STATE_KEY

BEIJING = timezone(timedelta(hours=8))
MAX_EXTRA = 200  # list-shaped furniture entries a page may grow by


@dataclass(frozen=True, slots=True)
class Item:
    """One article as a source lists it: the story, its address and its times."""

    story: Story
    number: int  # the site's article id
    url: str  # the canonical, real URL the crawl requests
    published: datetime  # aware, Beijing time
    credit: str = (
        ""  # a repost's credit line (36kr, niaogebiji) or original outlet (cnbeta, caijing)
    )
    short: bool = False  # 36kr: the feed carries only a summary, so the page is fetched


@dataclass(frozen=True, slots=True)
class Furniture:
    """A source's pool of other articles, menus and links, drawn on by every page it serves."""

    host: str
    cards: tuple[Card, ...]
    channels: tuple[tuple[str, str], ...]
    subchannels: tuple[tuple[tuple[str, str], ...], ...]
    friends: tuple[tuple[str, str], ...]

    def draw(self, key: str, extra: int) -> PageFurniture:
        """The related cards, ranking and friendly links of one page, `extra` entries grown."""
        rng = random.Random(key)
        related = rng.sample(self.cards, min(len(self.cards), 8 + MAX_EXTRA))
        ranking = rng.sample(self.cards, min(len(self.cards), 6 + MAX_EXTRA))
        friends = rng.sample(self.friends, len(self.friends))
        return PageFurniture(
            related=tuple(related[: 6 + extra]),
            ranking=tuple(ranking[: 5 + extra // 2]),
            friends=tuple((friends * 4)[: 12 + extra]),
            version=f"{rng.randrange(16**8):08x}",
        )


@dataclass(frozen=True, slots=True)
class PageFurniture:
    related: tuple[Card, ...]
    ranking: tuple[Card, ...]
    friends: tuple[tuple[str, str], ...]
    version: str


def fit(build: Callable[[int], bytes], target: int) -> bytes:
    """The smallest page build(extra) of at least `target` bytes (extra ≤ MAX_EXTRA)."""
    low, high = 0, MAX_EXTRA
    if len(page := build(high)) < target:
        return page
    while low < high:
        middle = (low + high) // 2
        if len(build(middle)) >= target:
            high = middle
        else:
            low = middle + 1
    return build(low)


def beijing(moment: datetime) -> datetime:
    return moment.astimezone(BEIJING)


# 36氪 ------------------------------------------------------------------------------------------


def kr36_body(item: Item) -> str:
    """The article HTML as 36kr's feed and page state carry it."""
    parts = []
    for index, block in enumerate(item.story.blocks):
        if block.kind == "h2":
            parts.append(f'<h2 label="一级标题">{esc(block.text)}</h2>')
        elif block.kind == "img":
            parts.append(
                '<p class="image-wrapper"><img data-img-size-val="1080,720" src="https://img.36krcdn.com/'
                f"hsossms/{item.published:%Y%m%d}/v2_{item.number:x}{index:02d}@{item.number % 9973}_oswg"
                f'{64000 + index}oswg1080oswg720_img_000?x-oss-process=image/format,jpg/interlace,1" '
                'referrerpolicy="no-referrer"></p>'
                f'<p class="img-desc">{esc(block.caption)}</p>'
            )
        else:
            parts.append(f"<p>{esc(block.text)}</p>")
    if item.credit:
        parts.append(f'<p class="editor-note">{esc(item.credit)}</p>')
    return "".join(parts)


def kr36_feed(host: str, items: Sequence[Item]) -> bytes:
    """RSS with full HTML descriptions (a summary only for `short` items), non-RFC pubDates."""
    entries = []
    for item in items:
        when = beijing(item.published)
        description = f"<p>{esc(item.story.summary)}</p>" if item.short else kr36_body(item)
        entries.append(
            f"<item>\n<title><![CDATA[{item.story.title}]]></title>\n"
            f"<link>https://{host}/p/{item.number}?f=rss</link>\n"
            f"<pubDate>{when:%Y-%m-%d %H:%M:%S}  +0800</pubDate>\n"
            f"<description><![CDATA[{description}]]></description>\n</item>"
        )
    newest = beijing(max(i.published for i in items)) if items else datetime(2026, 11, 20)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<channel>\n'
        f"<title>36氪</title>\n<link>https://{host}/</link>\n"
        "<description>36氪_让一部分人先看到未来</description>\n<language>zh-cn</language>\n"
        "<copyright>Copyright 2011-2026 36Kr.com</copyright>\n"
        f"<pubDate>{newest:%Y-%m-%d %H:%M:%S}  +0800</pubDate>\n"
        + "\n".join(entries)
        + "\n</channel>\n</rss>\n"
    ).encode("utf-8")


def kr36_page(item: Item, furniture: Furniture, target: int, *, encrypt: bool) -> bytes:
    """An article page: server-rendered DOM plus window.initialState (AES-encrypted or plain)."""
    return fit(lambda extra: _kr36_page(item, furniture, extra, encrypt=encrypt), target)


def _kr36_page(item: Item, furniture: Furniture, extra: int, *, encrypt: bool) -> bytes:
    story, host = item.story, furniture.host
    page = furniture.draw(item.url, extra)
    body = kr36_body(item)
    when = beijing(item.published)
    author_id = 5_000_000 + item.number % 999_983
    related = "".join(
        f'<div class="kr-flow-article-item"><div class="article-item-pic-wrapper"><a class="article-item-pic" href="{esc(c.url)}" target="_blank"><img src="{esc(c.image)}" alt="{esc(c.title)}"></a></div>'
        f'<div class="article-item-info clearfloat"><p class="title-wrapper ellipsis-2"><a class="article-item-title weight-bold" href="{esc(c.url)}" target="_blank">{esc(c.title)}</a></p>'
        f'<a class="article-item-description ellipsis-2" href="{esc(c.url)}" target="_blank">{esc(c.summary)}</a>'
        f'<div class="kr-flow-bar"><span class="kr-flow-bar-author">{esc(c.author)}</span><span class="kr-flow-bar-time">{esc(c.time)}</span></div></div></div>'
        for c in page.related
    )
    hot = "".join(
        f'<div class="hotlist-item"><span class="hotlist-item-index">{n}</span><a class="hotlist-item-title" href="{esc(c.url)}" target="_blank">{esc(c.title)}</a></div>'
        for n, c in enumerate(page.ranking, start=1)
    )
    state = {
        "navigator": {
            "isLogin": False,
            "userInfo": {},
            "navList": [
                {"name": name, "route": url, "children": [{"name": n, "route": u} for u, n in sub]}
                for (url, name), sub in zip(furniture.channels, furniture.subchannels, strict=True)
            ],
        },
        "theme": "default",
        "isSsr": True,
        "platformId": 2,
        "articleDetail": {
            "articleDetailData": {
                "code": 0,
                "data": {
                    "itemId": item.number,
                    "widgetTitle": story.title,
                    "widgetImage": f"https://img.36krcdn.com/hsossms/{when:%Y%m%d}/v2_cover{item.number}_img_000",
                    "author": story.author,
                    "authorId": author_id,
                    "authorRoute": f"detail_author?userId={author_id}",
                    "authorFace": f"https://img.36krcdn.com/20250310/v2_face{author_id}_img_000",
                    "publishTime": int(item.published.timestamp() * 1000),
                    "sourceType": "contribution" if item.credit else "original",
                    "templateType": 1,
                    "columnId": 1000 + item.number % 17,
                    "columnName": furniture.channels[item.number % len(furniture.channels)][1],
                    "summary": story.summary,
                    "widgetContent": body,
                    "tagList": [
                        {"tagName": t, "tagRoute": f"search/articles/{t}"}
                        for t in story.vocab.get("noun", ())[:3]
                    ],
                    "statCollect": item.number % 97,
                    "statPraise": item.number % 61,
                    "statComment": item.number % 13,
                    "favorite": False,
                    "hasPraise": False,
                },
            },
            "relatedArticleList": {
                "code": 0,
                "data": {
                    "itemList": [
                        {
                            "itemId": c.url.rsplit("/", 1)[-1],
                            "widgetTitle": c.title,
                            "widgetImage": c.image,
                            "summary": c.summary,
                            "authorName": c.author,
                            "publishTime": c.time,
                            "route": f"detail_article?itemId={c.url.rsplit('/', 1)[-1]}",
                        }
                        for c in page.related
                    ]
                },
            },
        },
        "hotList": {
            "itemList": [
                {"itemId": c.url.rsplit("/", 1)[-1], "widgetTitle": c.title, "widgetImage": c.image}
                for c in page.ranking
            ]
        },
        "footer": {"links": [{"name": t, "url": u} for u, t in page.friends]},
    }
    # As 36kr's server writes it: only "</" escaped, so no "</script>" closes the tag early.
    state_json = json.dumps(state, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    if encrypt:
        state_json = json.dumps({"state": encrypt_state(state_json), "isEncrypt": True})
    nav = menu(furniture.channels, furniture.subchannels)
    tags = links(
        ((f"https://{host}/search/articles/{t}", t) for t in story.vocab.get("noun", ())[:3]),
        item='<a class="kr-tag-item" href="{url}" target="_blank">{text}</a>',
    )
    html = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="renderer" content="webkit">
<meta name="viewport" content="width=device-width,initial-scale=1,minimum-scale=1,maximum-scale=1,user-scalable=no">
<title>{esc(story.title)}-36氪</title>
<meta name="keywords" content="{esc(",".join(story.vocab.get("noun", ())[:4]))}">
<meta name="description" content="{esc(story.summary)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(story.title)}">
<meta property="og:description" content="{esc(story.summary)}">
<meta property="og:image" content="https://img.36krcdn.com/hsossms/{when:%Y%m%d}/v2_cover{item.number}_img_000">
<meta property="og:url" content="https://{host}/p/{item.number}">
<link rel="canonical" href="https://{host}/p/{item.number}">
<link rel="alternate" media="only screen and (max-width: 640px)" href="https://m.36kr.com/p/{item.number}">
<link rel="shortcut icon" href="https://static.36krcdn.com/36kr-web/static/favicon.ico" type="image/x-icon">
<link href="https://static.36krcdn.com/36kr-web/static/app.{page.version}.css" rel="stylesheet">
<link href="https://static.36krcdn.com/36kr-web/static/vendors.{page.version[::-1]}.css" rel="stylesheet">
{script(ANALYTICS_JS % {"key": page.version * 4})}
</head>
<body>
<div id="app"><div class="kr-layout"><div class="kr-layout-header"><div class="kr-header"><div class="kr-header-content clearfloat">
<a class="kr-header-logo" href="https://{host}/" title="36氪"><img src="https://static.36krcdn.com/36kr-web/static/kr36-logo.png" alt="36氪"></a>
<div class="kr-header-nav">{nav}</div>
<div class="kr-header-right"><div class="kr-search-input"><input type="text" placeholder="搜索文章、快讯、作者"></div><a class="kr-header-login" href="javascript:void(0)">登录</a><a class="kr-header-contribute" href="https://{host}/seek-report-new" target="_blank">寻求报道</a></div>
</div></div></div>
<div class="kr-layout-main clearfloat"><div class="main-right"><div class="kr-article"><div class="article-detail-wrapper-box clearfloat">
<div class="article-left-container">
<div class="article-wrapper common-width">
<h1 class="article-title margin-bottom-20 common-width">{esc(story.title)}</h1>
<div class="article-title-icon common-width margin-bottom-40"><a class="title-icon-item item-a" href="https://{host}/user/{author_id}" target="_blank">{esc(story.author)}</a><span class="title-icon-item item-time">·{when:%Y年%m月%d日 %H:%M}</span></div>
<div class="summary">{esc(story.summary)}</div>
<div class="article-content"><div class="common-width content articleDetailContent kr-rich-text-wrapper">{body}</div></div>
<div class="article-footer-txt common-width"><p>本文经授权发布，不代表36氪立场。</p><p>该文观点仅代表作者本人，36氪平台仅提供信息存储空间服务。</p></div>
<div class="kr-tag-list common-width">{tags}</div>
<div class="article-operate common-width"><span class="operate-item praise">赞 {item.number % 61}</span><span class="operate-item collect">收藏 {item.number % 97}</span><span class="operate-item share">分享</span></div>
</div>
<div class="kr-comment common-width"><div class="kr-comment-title">评论</div><div class="kr-comment-list" data-item="{item.number}"></div><div class="kr-comment-empty">还没有评论，快来抢沙发吧</div></div>
{COMMENT_TEMPLATE}
<div class="kr-recommend common-width"><div class="kr-recommend-title">推荐阅读</div><div class="kr-flow-article-list">{related}</div></div>
</div>
<div class="article-right-container">
<div class="author-card"><a class="author-name ellipsis-1" href="https://{host}/user/{author_id}" target="_blank">{esc(story.author)}</a><div class="author-description">36氪作者</div><a class="author-follow">关注</a></div>
<div class="hotlist-main"><div class="hotlist-title">36氪热榜</div>{hot}</div>
<div class="kr-download-app"><p>下载36氪APP</p><p>扫码查看更多精彩内容</p></div>
</div>
</div></div></div></div>
<div class="kr-layout-footer"><div class="kr-footer">{friendly_links(page.friends)}<div class="kr-footer-copyright">© 2011~2026 北京多氪信息科技有限公司 | 京ICP备00000000号-1 | 违法和不良信息举报电话：400-000-0000</div></div></div>
</div></div>
<script>window.initialState={state_json}</script>
{script(WEBPACK_RUNTIME_JS % {"chunk": item.number % 7, "hashes": ",".join(f'{n}:"{page.version[n % 8 :]}{n}"' for n in range(12))})}
<script src="https://static.36krcdn.com/36kr-web/static/runtime.{page.version}.js"></script>
<script src="https://static.36krcdn.com/36kr-web/static/vendors.{page.version}.js"></script>
<script src="https://static.36krcdn.com/36kr-web/static/app.{page.version}.js"></script>
</body>
</html>
"""
    return html.encode("utf-8")


def encrypt_state(plain: str) -> str:
    """What 36kr's page script decrypts: AES-128-ECB, PKCS7, base64."""
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    data = padder.update(plain.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(STATE_KEY), modes.ECB()).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")


# cnBeta ----------------------------------------------------------------------------------------

CNBETA_CATEGORIES = {
    "interop": "tech",
    "ev": "tech",
    "ai": "tech",
    "chip": "tech",
    "robot": "science",
    "phone": "tech",
    "content": "movie",
    "local": "tech",
    "overseas": "tech",
    "bank": "tech",
    "games": "game",
}
TEASER_CHARS = 140


def cnbeta_feed(host: str, items: Sequence[Item]) -> bytes:
    """RSS 2.0 teasers (~140 characters and a 阅读全文 link), RFC 822 GMT pubDates."""
    entries = []
    for item in items:
        teaser = item.story.text.replace("\n", "")[:TEASER_CHARS] + "…"
        entries.append(
            f"    <item>\n      <title><![CDATA[{item.story.title}]]></title>\n"
            f"      <link>{item.url}</link>\n"
            f'      <description><![CDATA[<p>{esc(teaser)}</p><a href="{item.url}" target="_blank">阅读全文</a>]]></description>\n'
            f"      <author>{esc(item.story.author)}</author>\n"
            f"      <pubDate>{format_datetime(item.published.astimezone(UTC), usegmt=True)}</pubDate>\n"
            f"      <guid>{item.url}</guid>\n    </item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n  <channel>\n'
        f"    <title>cnBeta.COM - 中文业界资讯站</title>\n    <link>https://{host}</link>\n"
        "    <description>cnBeta.COM - 简明IT新闻,网友媒体与言论平台</description>\n"
        "    <language>zh-cn</language>\n    <ttl>10</ttl>\n"
        + "\n".join(entries)
        + "\n  </channel>\n</rss>\n"
    ).encode("utf-8")


def cnbeta_page(item: Item, furniture: Furniture, target: int) -> bytes:
    """The desktop layout: summary + content with ad units and scripts, then sidebars."""
    return fit(lambda extra: _cnbeta_page(item, furniture, extra), target)


def _cnbeta_content(item: Item, blocks: Sequence[Block]) -> str:
    parts = []
    for index, block in enumerate(blocks):
        if block.kind == "h2":
            parts.append(f"<p><strong>{esc(block.text)}</strong></p>")
        elif block.kind == "img":
            parts.append(
                f'<p style="text-align: center;"><img src="https://static.cnbetacdn.com/article/{item.published:%Y/%m%d}/{item.number:x}{index:02d}.jpg"></p>'
                f'<p style="text-align: center;">▲{esc(block.caption)}</p>'
            )
        elif index == 3 and len(block.sentences) > 2:  # the in-read slot sits inside a paragraph
            head, tail = "".join(block.sentences[:2]), "".join(block.sentences[2:])
            parts.append(
                f'<p>{esc(head)}<script type="text/javascript">if (window.CB && CB.inread) {{ CB.inread.mount("article-mid", {{sid: "{item.number}", text: "继续阅读"}}); }}</script>{esc(tail)}</p>'
            )
        else:
            parts.append(f"<p>{esc(block.text)}</p>")
        if index == 1:
            parts.append(
                '<div style="text-align:center;margin:15px 0;">\n'
                '<script async src="https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client=ca-pub-3018472651190245" crossorigin="anonymous"></script>\n'
                '<ins class="adsbygoogle" style="display:block; text-align:center;" data-ad-layout="in-article" data-ad-format="fluid" data-ad-client="ca-pub-3018472651190245" data-ad-slot="7204518836"></ins>\n'
                "<script>\n     (adsbygoogle = window.adsbygoogle || []).push({});\n</script>\n</div>"
            )
    return "\n".join(parts)


def _cnbeta_page(item: Item, furniture: Furniture, extra: int) -> bytes:
    story, host = item.story, furniture.host
    page = furniture.draw(item.url, extra)
    category = CNBETA_CATEGORIES[story.beat]
    lead, rest = story.blocks[0], story.blocks[1:]
    when = beijing(item.published)
    source = esc(item.credit or "cnBeta.COM")
    relation = "".join(
        f'<li><a href="{esc(c.url)}" target="_blank">{esc(c.title)}</a></li>' for c in page.related
    )
    side_hot = "".join(
        f'<li><a href="{esc(c.url)}" target="_blank">{esc(c.title)}</a></li>' for c in page.ranking
    )
    side_cards = "".join(
        f'<div class="item"><a href="{esc(c.url)}" target="_blank"><img class="lazy" data-original="{esc(c.image)}" alt="{esc(c.title)}"></a>'
        f'<dl><dt><a href="{esc(c.url)}" target="_blank">{esc(c.title)}</a></dt><dd><p>{esc(c.summary)}</p><span>{esc(c.time)}</span></dd></dl></div>'
        for c in page.related
    )
    slots = json.dumps(
        [{"id": f"cb-{n}", "size": [300, 250], "pos": f"side-{n}"} for n in range(6)]
    )
    lead_html = (
        f"<p><strong>{esc(lead.sentences[0])}</strong>{esc(''.join(lead.sentences[1:]))}</p>"
    )
    html = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="UTF-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge,chrome=1">
<meta name="renderer" content="webkit">
<meta name="viewport" content="width=1280">
<title>{esc(story.title)} - {esc(story.vocab["org"][0])} - cnBeta.COM</title>
<meta name="keywords" content="{esc(",".join(story.vocab["noun"][:5]))}">
<meta name="description" content="{esc(lead.text[:120])}">
<meta name="csrf-param" content="_csrf">
<meta name="csrf-token" content="{base64.b64encode(page.version.encode() * 5).decode()}">
<link rel="canonical" href="{item.url}">
<link rel="alternate" media="only screen and (max-width: 640px)" href="https://m.cnbeta.com.tw/view/{item.number}.htm">
<link rel="alternate" type="application/rss+xml" title="cnBeta.COM RSS 2.0" href="https://{host}/backend.php">
<link rel="shortcut icon" href="https://static.cnbetacdn.com/www/images/favicon.ico">
<link rel="stylesheet" href="https://static.cnbetacdn.com/www/css/global.css?v={page.version}">
<link rel="stylesheet" href="https://static.cnbetacdn.com/www/css/article.css?v={page.version}">
<script>
var GV = {{DOMAIN: "https://{host}", STATIC: "https://static.cnbetacdn.com", SID: "{item.number}", SN: "{page.version[:5]}", TYPE: "{category}"}};
</script>
<script async src="https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client=ca-pub-3018472651190245" crossorigin="anonymous"></script>
</head>
<body>
<div class="cnbeta-header">
  <div class="w1200 clearfix">
    <a class="logo" href="https://{host}/" title="cnBeta.COM"><img src="https://static.cnbetacdn.com/www/images/logo_2026.png" alt="cnBeta.COM"></a>
    <div class="nav">{menu(furniture.channels, furniture.subchannels)}</div>
    <form class="search" action="https://{host}/search" method="get">
      <input type="text" name="q" placeholder="搜索资讯"><button type="submit">搜索</button>
    </form>
  </div>
</div>
<div class="main-wrap">
<div class="cnbeta-article-wrapper">
<div class="cnbeta-update">
<div class="w1200 clearfix">
  <div class="cnbeta-article">
    <header class="title">
      <h1>{esc(story.title)}</h1>
      <div class="meta">
        <span>{when:%Y年%m月%d日 %H:%M}</span>
        <span class="source">稿源：<a href="https://{host}/" target="_blank" rel="nofollow"><span>{source}</span></a></span>
        <span class="comment-num"><a href="#comments"><em id="comment_num">{item.number % 40}</em> 条评论</a></span>
      </div>
    </header>
    <div class="cnbeta-article-body">
      <div class="article-summary">
        <div class="topic">
          <a href="https://{host}/topics/{item.number % 300}.htm" target="_blank"><img title="{esc(story.vocab["org"][0])}" src="https://static.cnbetacdn.com/topics/{page.version}.png"></a>
        </div>
        {lead_html}
      </div>
      <div class="article-content">
        <div class="article-global"><a href="https://{host}/articles/{page.version}.htm">{esc(page.ranking[0].title)}</a></div>
        {_cnbeta_content(item, rest)}
      </div>
      <div class="tac">
        <ins class="adsbygoogle" style="display:block" data-ad-client="ca-pub-3018472651190245" data-ad-slot="5861039472" data-ad-format="auto" data-full-width-responsive="true"></ins>
        <script>(adsbygoogle = window.adsbygoogle || []).push({{}});</script>
      </div>
      <div class="article-share-code">
        <span>分享到：</span>
        <a class="share-weibo" href="javascript:;" data-share="weibo" title="分享到新浪微博">微博</a>
        <a class="share-wechat" href="javascript:;" data-share="wechat" title="分享到微信">微信</a>
        <a class="share-qzone" href="javascript:;" data-share="qzone" title="分享到QQ空间">QQ空间</a>
      </div>
      <div class="rating_box">
        <a class="rate-up" href="javascript:;" data-sid="{item.number}">支持</a><em>{item.number % 17}</em>
        <a class="rate-down" href="javascript:;" data-sid="{item.number}">反对</a><em>{item.number % 5}</em>
      </div>
      <div class="clearfix"></div>
    </div>
    <div class="article-relation">
      <h3>相关文章</h3>
      <ul>{relation}</ul>
    </div>
    <div class="article-comment" id="comments">
      <div class="comment-header"><h3>热门评论</h3><a class="more" href="https://{host}/comment/{item.number}.htm">查看全部评论</a></div>
      <div class="comment-list" data-sid="{item.number}" data-sn="{page.version[:5]}"><p class="loading">评论加载中……</p></div>
      <div class="comment-post"><textarea name="content" placeholder="文明上网，理性发言"></textarea><button class="btn-post" type="button">发表评论</button></div>
      {COMMENT_TEMPLATE}
    </div>
  </div>
  <div class="cnbeta-side">
    <div class="cnbeta-side-box side-ad">
      <ins class="adsbygoogle" style="display:inline-block;width:300px;height:250px" data-ad-client="ca-pub-3018472651190245" data-ad-slot="3390527164"></ins>
      <script>(adsbygoogle = window.adsbygoogle || []).push({{}});</script>
    </div>
    <div class="cnbeta-side-box">
      <h3>热门资讯</h3>
      <ol class="side-hot">{side_hot}</ol>
    </div>
    <div class="cnbeta-side-box">
      <h3>推荐阅读</h3>
      <div class="side-cards">{side_cards}</div>
    </div>
  </div>
</div>
</div>
</div>
</div>
<div class="footer">
  <div class="w1200">
    {friendly_links(page.friends)}
    <p><a href="https://{host}/about.htm">关于我们</a> | <a href="https://{host}/contact.htm">联系我们</a> | <a href="https://{host}/backend.php">RSS订阅</a> | <a href="https://m.cnbeta.com.tw/">移动版</a></p>
    <p>&copy; 2003-2026 cnBeta.COM 中文业界资讯站</p>
  </div>
</div>
<script src="https://static.cnbetacdn.com/www/js/jquery-3.7.1.min.js"></script>
<script src="https://static.cnbetacdn.com/www/js/article.js?v={page.version}"></script>
{script(JQUERY_WIDGETS_JS)}
{script(AD_SLOT_JS % {"slots": slots, "host": "static.cnbetacdn.com", "version": page.version})}
{script(ANALYTICS_JS % {"key": page.version * 4})}
</body>
</html>
"""
    return html.encode("utf-8")


# 鸟哥笔记 (niaogebiji) ------------------------------------------------------------------------

NIAO_P = 'style="font-size: 16px; color: rgb(33, 38, 41); margin-bottom: 25px;"'
NIAO_H1 = (
    'style="background-image: url(&quot;/img/article/h1_icon.png&quot;); background-size: 16px 20px; '
    "background-position: 0px 5px; background-repeat: no-repeat; margin: 25px 0px 20px; padding-left: 22px; "
    'font-size: 20px; font-weight: 600; color: rgb(33, 38, 41); line-height: 30px; text-align: center;"'
)
NIAO_CAPTION = 'style="font-size: 12px; color: rgb(129, 131, 134); text-align: center; font-weight: 300; line-height: 30px; margin-bottom: 25px;"'


def niaogebiji_list(items: Sequence[Item]) -> bytes:
    """getMoreArticle: return_data records with relative links, published_at number or string."""
    records = []
    for index, item in enumerate(items):
        stamp = int(item.published.timestamp())
        records.append(
            {
                "id": str(item.number),
                "title": item.story.title,
                "summary": item.story.summary,
                "author": item.story.author,
                "uid": f"u{item.number % 100_000}",
                "thumb": f"https://qnssl.niaogebiji.com/{item.published:%Y%m%d}/{item.number:x}.png",
                "published_at": stamp if index % 3 == 0 else str(stamp),
                "updated_at": str(stamp + 600),
                "link": f"/article-{item.number}-1.html",
                "catid": "109",
                "catname": "行业动态",
                "tag_list": list(item.story.vocab["noun"][:3]),
                "read_num": f"{item.number % 50 / 10:.1f}k",
            }
        )
    answer = {"return_code": "200", "return_msg": "success", "return_data": records}
    return json.dumps(answer, ensure_ascii=False).replace("/", "\\/").encode("utf-8")


def niaogebiji_page(item: Item, furniture: Furniture, target: int) -> bytes:
    """Header, `.pc_content` in the editor's inline-styled markup, related cards, hot list."""
    return fit(lambda extra: _niaogebiji_page(item, furniture, extra), target)


def _niaogebiji_body(item: Item) -> str:
    first = f"本文由 @{item.story.author} 原创发布于鸟哥笔记，未经许可，禁止转载。"
    parts = [f'<p label="正文" {NIAO_P}>{esc(item.credit or first)}</p>']
    for block in item.story.blocks:
        if block.kind == "h2":
            parts.append(f'<h1 label="一级标题" {NIAO_H1}>{esc(block.text)}</h1>')
        elif block.kind == "img":
            image = f"https://qnssl.niaogebiji.com/{item.published:%Y%m%d}/{item.number:x}{len(parts)}.png"
            parts.append(
                f'<p label="正文" style="font-size: 16px; color: rgb(33, 38, 41); margin-bottom: 25px; text-align: center;">'
                f'<img data-ic="false" src="{image}" data-width="1080" data-height="608" class="article_img" alt="鸟哥笔记,行业动态" referrerpolicy="no-referrer"></p>'
                f'<p label="图片描述" {NIAO_CAPTION}>{esc(block.caption)}</p>'
            )
        else:
            parts.append(f'<p label="正文" {NIAO_P}>{esc(block.text)}</p>')
    parts.append(
        f'<p label="正文" {NIAO_P}>本文为作者独立观点，不代表鸟哥笔记立场，未经允许不得转载。</p>'
    )
    return "".join(parts)


def _niaogebiji_page(item: Item, furniture: Furniture, extra: int) -> bytes:
    story, host = item.story, furniture.host
    page = furniture.draw(item.url, extra)
    when = beijing(item.published)
    uid = f"u{item.number % 100_000}"
    cards = "".join(
        f"""            <div class="articleBox clearfix" data-timepoint="{int(item.published.timestamp()) - 3600 * n}">
                <a href="{esc(c.url)}" target="_blank" class="articleImg"><img src="{esc(c.image)}" alt="{esc(c.title)}"></a>
                <div class="articleContent">
                    <a href="{esc(c.url)}" target="_blank"><h3 class="articleTitle">{esc(c.title)}</h3></a>
                    <div class="articleContentInner">{esc(c.summary)}</div>
                    <div class="articleInfo clearfix">
                        <a href="/u/{esc(c.author)}" class="author">{esc(c.author)}</a>
                        <span class="art_tags"><a href="/tag/{esc(story.vocab["noun"][0])}" class="art_tag">{esc(story.vocab["noun"][0])}</a></span>
                    </div>
                </div>
            </div>
"""
        for n, c in enumerate(page.related)
    )
    hot = "".join(
        f'<li><a href="{esc(c.url)}" target="_blank">{esc(c.title)}</a></li>' for c in page.ranking
    )
    tags = "".join(
        f'<a href="/tag/{esc(t)}" class="art_tag">{esc(t)}</a>' for t in story.vocab["noun"][:3]
    )
    html = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
    <meta charset="UTF-8">
    <meta name="renderer" content="webkit">
    <meta http-equiv="X-UA-Compatible" content="IE=edge,chrome=1">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <title>{esc(story.title)}-鸟哥笔记</title>
    <meta name="keywords" content="鸟哥笔记,行业动态,{esc(story.author)},{esc(",".join(story.vocab["noun"][:4]))}">
    <meta name="description" content="{esc(story.summary)}">
    <link rel="canonical" href="{item.url}">
    <link rel="alternate" media="only screen and (max-width: 640px)" href="https://m.niaogebiji.com/article-{item.number}-1.html">
    <link rel="shortcut icon" href="https://{host}/favicon.ico">
    <link rel="stylesheet" href="https://{host}/css/pc/common.css?v={page.version}">
    <link rel="stylesheet" href="https://{host}/css/pc/article.css?v={page.version}">
    <script src="https://{host}/js/jquery-1.11.3.min.js"></script>
    {script(ANALYTICS_JS % {"key": page.version * 4})}
</head>
<body>
<div class="header">
    <div class="headerInner clearfix">
        <a href="https://{host}/" class="logo"><img src="https://{host}/img/pc/logo.png" alt="鸟哥笔记"></a>
        <div class="navBox">{menu(furniture.channels, furniture.subchannels)}</div>
        <div class="searchBox"><input type="text" class="searchInput" placeholder="搜索你感兴趣的内容"><a href="javascript:;" class="searchBtn"></a></div>
        <div class="userBox"><a href="javascript:;" class="loginBtn">登录</a><a href="javascript:;" class="writeBtn">写文章</a></div>
    </div>
</div>
<div class="main clearfix">
    <div class="left">
        <div class="articleHeader">
            <div class="crumbs"><a href="/">首页</a> &gt; <a href="/cat/109">行业动态</a> &gt; <span>正文</span></div>
            <h1>{esc(story.title)}</h1>
            <div class="articleInfo clearfix">
                <a href="/u/{uid}" class="authorAvatar"><img src="https://qnssl.niaogebiji.com/avatar/{uid}.png" alt=""></a>
                <div class="infoText">
                    <a href="/u/{uid}" class="author">{esc(story.author)}</a>
                    <span class="writeTime3">{when:%Y-%m-%d %H:%M}</span>
                    <span class="readNum"><i class="icon_eye"></i>{item.number % 50 / 10:.1f}k</span>
                </div>
            </div>
        </div>
        <div class="pc_content">
                        <div style="height: 6px"></div>
                        {_niaogebiji_body(item)}                        <div style="height: 1px"></div>
        </div>
        <div class="articleTags">{tags}</div>
        <div class="copyrightBox">《鸟哥笔记版权及免责申明》如对文章、图片、字体等版权有疑问，请在鸟哥笔记平台留言或与我们联系，我们将在核实后第一时间处理。</div>
        <div class="articleOperate clearfix"><a href="javascript:;" class="likeBtn">点赞 <span>{item.number % 90}</span></a><a href="javascript:;" class="collectBtn">收藏</a><a href="javascript:;" class="shareBtn" data-share="wechat">分享</a></div>
        <div class="commentBox" id="comment"><div class="commentTitle">评论</div><div class="commentList" data-aid="{item.number}"></div>{COMMENT_TEMPLATE}</div>
        <div class="relatedArticles">
            <div class="relatedTitle">相关推荐</div>
{cards}        </div>
    </div>
    <div class="right">
        <div class="authorCard">
            <img src="https://qnssl.niaogebiji.com/avatar/{uid}.png" alt="" class="authorCardAvatar">
            <p class="authorCardName">{esc(story.author)}</p>
            <p class="authorCardDesc">{esc(story.summary)}</p>
            <a href="/u/{uid}" class="followBtn">关注</a>
        </div>
        <div class="hotArticles">
            <div class="hotTitle">热门文章</div>
            <ul class="hotList">{hot}</ul>
        </div>
    </div>
</div>
<div class="footer">
    <div class="footerInner">
        {friendly_links(page.friends)}
        <p class="footerLinks"><a href="/about">关于我们</a><a href="/contact">联系我们</a><a href="/copyright">版权声明</a><a href="/contribute">投稿须知</a></p>
        <p class="footerCopy">© 2014-2026 鸟哥笔记 版权所有</p>
    </div>
</div>
<script src="https://{host}/js/pc/common.js?v={page.version}"></script>
<script>
    var article_id = "{item.number}";
    var catid = "109";
</script>
{script(JQUERY_WIDGETS_JS)}
<script src="https://{host}/js/pc/article.js?v={page.version}"></script>
</body>
</html>
"""
    return html.encode("utf-8")


# 财经网 (caijing) ------------------------------------------------------------------------------


def caijing_roll(items: Sequence[Item]) -> bytes:
    """The roll as PHP serves it: \\uXXXX escapes, escaped slashes, year-less "MM-DD HH:mm"."""
    records = [
        {
            "contentid": str(item.number),
            "title": item.story.title.replace('"', "&quot;"),
            "url": item.url,
            "published": f"{beijing(item.published):%m-%d %H:%M}",
            "cat": "科技",
            "caturl": item.url.rsplit("/", 2)[0] + "/",
        }
        for item in items
    ]
    return json.dumps(records).replace("/", "\\/").encode("ascii")


def caijing_page(item: Item, furniture: Furniture, target: int, *, gbk: bool) -> bytes:
    """The current layout (div.article h1, #pubtime_baidu, div.article-content); GBK when asked."""
    encoding = "gbk" if gbk else "utf-8"
    return fit(lambda extra: _caijing_page(item, furniture, extra, encoding), target)


def _caijing_body(item: Item) -> str:
    parts = [f"<p>文｜《财经》新媒体 {esc(item.story.author)}</p>"]
    for index, block in enumerate(item.story.blocks):
        if block.kind == "h2":
            parts.append(f"<p><strong>{esc(block.text)}</strong></p>")
        elif block.kind == "img":
            parts.append(
                f'<p style="text-align: center;"><img src="https://img.caijing.com.cn/{item.published:%Y/%m%d}/{item.number}{index:02d}.jpg" alt="" width="600" /></p>\n'
                '<p style="text-align: center;">图片来源：视觉中国</p>'
            )
        else:
            parts.append(f"<p>{esc(block.text)}</p>")
    return "\n".join(parts)


def _caijing_page(item: Item, furniture: Furniture, extra: int, encoding: str) -> bytes:
    story, host = item.story, furniture.host
    page = furniture.draw(item.url, extra)
    when = beijing(item.published)
    keywords = "".join(
        f'<span><a href="https://search.caijing.com.cn/search.html?key={esc(t)}" target="_blank">{esc(t)}</a></span>'
        for t in story.vocab["noun"][:4]
    )
    reading = "".join(
        f'<li><a href="{esc(c.url)}" target="_blank">{esc(c.title)}</a><span>{esc(c.time[:10])}</span></li>'
        for c in page.related
    )
    ranking = "".join(
        f'<li><em>{n}</em><a href="{esc(c.url)}" target="_blank">{esc(c.title)}</a></li>'
        for n, c in enumerate(page.ranking, start=1)
    )
    pictures = "".join(
        f'<li><a href="{esc(c.url)}" target="_blank"><img src="{esc(c.image)}" alt=""><p>{esc(c.title)}</p></a><span>{esc(c.summary)}</span></li>'
        for c in page.related[: len(page.related) // 2]
    )
    origin = esc(item.credit or "财经网")
    charset = "gbk" if encoding == "gbk" else "utf-8"
    html = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<meta http-equiv="X-UA-Compatible" content="IE=edge,chrome=1">
<meta name="renderer" content="webkit">
<title>{esc(story.title)}-财经网 - CAIJING.COM.CN</title>
<meta name="keywords" content="{esc(",".join(story.vocab["noun"][:4]))}">
<meta name="description" content="{esc(story.summary)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(story.title)}">
<meta property="og:url" content="{item.url}">
<link rel="shortcut icon" href="https://www.caijing.com.cn/favicon.ico">
<link rel="stylesheet" href="https://www.caijing.com.cn/templates/2019/css/common.css?v={page.version}">
<link rel="stylesheet" href="https://www.caijing.com.cn/templates/2019/css/article.css?v={page.version}">
<script src="https://www.caijing.com.cn/templates/2019/js/jquery-1.11.3.min.js"></script>
{script(ANALYTICS_JS % {"key": page.version * 4})}
</head>
<body>
<div class="topbar">
  <div class="w1200">
    <div class="topbar_l"><a href="https://www.caijing.com.cn/" target="_blank">财经网首页</a> | <a href="https://m.caijing.com.cn/" target="_blank">手机版</a> | <a href="https://www.caijing.com.cn/app/" target="_blank">下载客户端</a></div>
    <div class="topbar_r"><a href="https://user.caijing.com.cn/login" rel="nofollow">登录</a> <a href="https://user.caijing.com.cn/register" rel="nofollow">注册</a></div>
  </div>
</div>
<div class="header w1200">
  <div class="logo"><a href="https://www.caijing.com.cn/"><img src="https://www.caijing.com.cn/templates/2019/images/logo.png" alt="财经网"></a></div>
  <div class="channel_logo"><a href="https://{host}/">科技</a></div>
  <div class="search"><form action="https://search.caijing.com.cn/search.html" method="get" target="_blank"><input type="text" name="key" placeholder="请输入关键词"><button type="submit">搜索</button></form></div>
</div>
<div class="nav">{menu(furniture.channels, furniture.subchannels)}</div>
<div class="main w1200">
  <div class="crumbs">当前位置：<a href="https://www.caijing.com.cn/">财经网</a> &gt; <a href="https://{host}/">科技</a> &gt; 正文</div>
  <div class="main_l">
    <div class="article">
      <h1>{esc(story.title)}</h1>
      <div class="article-info">
        <span id="pubtime_baidu">{when:%Y-%m-%d %H:%M:%S}</span>
        <span id="source_baidu">来源：<a href="https://www.caijing.com.cn/" target="_blank">{origin}</a></span>
        <span class="article-share">分享到：<a href="javascript:;" class="share_wx" data-share="wechat" title="分享到微信">微信</a><a href="javascript:;" class="share_wb" data-share="weibo" title="分享到微博">微博</a></span>
      </div>
      <div class="article-content">
{_caijing_body(item)}
<p id="editor_baidu">(责任编辑：{esc(story.vocab["person"][0])})</p>
<div class="ar_keywords"><div class="news_keywords">关键字：{keywords}</div></div>
      </div>
      <div class="ar_copyright">凡本网注明“来源：财经网”的所有作品，版权均属于财经网，未经授权不得转载、摘编或利用其它方式使用。</div>
    </div>
    <div class="xgyd">
      <h3>相关阅读</h3>
      <ul>{reading}</ul>
    </div>
    <div class="comment_box" id="comment"><h3>网友评论</h3><div class="comment_list" data-id="{item.number}">评论加载中……</div>{COMMENT_TEMPLATE}</div>
  </div>
  <div class="main_r">
    <div class="ad_r"><script src="https://a.caijing.com.cn/s.js?id=118"></script></div>
    <div class="phb">
      <h3>热门排行</h3>
      <ol>{ranking}</ol>
    </div>
    <div class="tpxw"><h3>图片新闻</h3><ul>{pictures}</ul></div>
  </div>
</div>
<div class="footer">
  {friendly_links(page.friends)}
  <p><a href="https://www.caijing.com.cn/about/" target="_blank">关于我们</a> | <a href="https://www.caijing.com.cn/contact/" target="_blank">联系我们</a> | <a href="https://www.caijing.com.cn/copyright/" target="_blank">版权声明</a> | <a href="https://www.caijing.com.cn/sitemap/" target="_blank">网站地图</a></p>
  <p>Copyright 2000-2026 CAIJING.COM.CN All Rights Reserved 财经网 版权所有</p>
</div>
{script(JQUERY_WIDGETS_JS)}
<script src="https://www.caijing.com.cn/templates/2019/js/article.js?v={page.version}"></script>
</body>
</html>
"""
    return html.encode(encoding, errors="xmlcharrefreplace")
