"""A new site is three things: its module, its recorded fixture folder, its seeds entry.

Everything else that names the sources derives from the registry or is checked against it here:
the per-site tests, the title-suffix names of fingerprint.title_key, the demo's seeds and the
README's source table.
"""

from __future__ import annotations

import re
from dataclasses import astuple
from pathlib import Path

import pytest

from crawler.config import load_seeds
from crawler.demo import SEEDS_DIR, SITES_DIR
from crawler.fingerprint import title_key
from crawler.sites import SITES, get_site
from crawler.sites.parsing import joined_text, squash, stripped

ROOT = Path(__file__).parents[1]
SITE_IDS = sorted(set(SITES) - {"generic"})
README_ROW_RE = re.compile(r"^\| `(?P<site>[a-z0-9_]+)` \|")


def readme_source_rows() -> list[str]:
    """The site ids of the rows of README's source table (its section, up to the next one)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## The five sources\n", 1)[1].split("\n## ", 1)[0]
    return [m["site"] for line in section.splitlines() if (m := README_ROW_RE.match(line))]


def test_the_readme_source_table_lists_every_registered_site_once() -> None:
    assert sorted(readme_source_rows()) == SITE_IDS


def test_the_demo_seeds_poll_what_the_shipped_seeds_poll() -> None:
    shipped = {s.id: s for s in load_seeds(ROOT / "seeds").sources}
    demo = {s.id: s for s in load_seeds(SEEDS_DIR).sources}
    assert sorted(demo) == sorted(shipped), "crawler/demo/seeds/sources.toml: copy the sources"
    for source_id, source in shipped.items():
        assert astuple(demo[source_id]) == astuple(source), (
            f"crawler/demo/seeds/sources.toml: source {source_id!r} differs from seeds/sources.toml"
        )


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_every_registered_site_has_a_fixture_folder_and_a_shipped_source(site_id: str) -> None:
    folder = SITES_DIR / site_id
    assert (folder / "mirror.toml").is_file(), f"{site_id}: no recorded copy in {folder}"
    assert (folder / "expected.json").is_file(), f"{site_id}: no expected.json in {folder}"
    shipped = {s.site for s in load_seeds(ROOT / "seeds").sources}
    assert site_id in shipped, f"seeds/sources.toml: no source reads site {site_id!r}"


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_a_title_signed_with_a_registered_site_name_keys_like_the_bare_title(site_id: str) -> None:
    site = get_site(site_id)
    for name in (site.id, site.name, *site.aliases):
        assert title_key(f"微信可以直接打开淘宝链接了 - {name}") == title_key(
            "微信可以直接打开淘宝链接了"
        )
        assert title_key(f"微信可以直接打开淘宝链接了_{name}") == title_key(
            "微信可以直接打开淘宝链接了"
        )


def test_an_unknown_long_suffix_is_kept_in_the_title_key() -> None:
    assert title_key("淘宝与微信 - 一场漫长的谈判终于结束") != title_key("淘宝与微信")


def test_text_helpers() -> None:
    assert squash("  微信\n 支付\t开放 ") == "微信 支付 开放"
    assert joined_text(["微信", "支付 ", "\n开放"]) == "微信支付 开放"
    assert joined_text(["Alipay", "WeChat"], sep=" ") == "Alipay WeChat"
    assert stripped("  36氪 ") == "36氪"
    assert stripped(None) == stripped(36) == stripped(["x"]) == ""
