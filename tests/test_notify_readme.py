"""The README's Notifications examples, run: its notify.toml loads, its output is real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import load_seeds
from crawler.notify.deliver import check_targets
from crawler.notify.targets import load_targets
from tests.notify_receivers import Webhook, readme_blocks, readme_section

TOPICS = '[[topic]]\nid = "interop"\nquery = "淘宝 AND 微信"\n'
SOURCES = '[[source]]\nid = "news"\nfeeds = ["https://a.example/feed"]\n'


def test_the_readme_notify_toml_loads_as_described(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config,) = readme_blocks("toml")
    (tmp_path / "sources.toml").write_text(SOURCES)
    (tmp_path / "topics.toml").write_text(TOPICS)
    (tmp_path / "notify.toml").write_text(config)
    monkeypatch.setenv("FOLLOWUP_WECOM_URL", "wecombot://0123456789abcdef")
    desk, wecom, mail = load_targets(tmp_path, topics=load_seeds(tmp_path).topics)
    check_targets([desk, wecom, mail])
    assert (desk.topics, desk.mode, desk.events) == (("interop",), "each", ("new", "health"))
    assert (wecom.mode, wecom.shown, wecom.byte_limit) == ("digest", "env:FOLLOWUP_WECOM_URL", 2048)
    assert mail.events == ("health",)
    assert f"(`{mail.shown}`)" in readme_section()


def test_the_readme_notify_test_output(tmp_path: Path) -> None:
    (config,) = readme_blocks("toml")
    shown = re.search(r"\$ followup notify test --target desk\n((?:    .*\n)+)", readme_section())
    assert shown is not None
    (tmp_path / "sources.toml").write_text(SOURCES)
    (tmp_path / "topics.toml").write_text(TOPICS)
    with Webhook() as webhook:
        port = webhook.server.server_port
        desk = config.split("[[notify]]")[1].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        (tmp_path / "notify.toml").write_text(f"[[notify]]{desk}")
        result = CliRunner().invoke(
            cli, ["notify", "test", "--target", "desk", "--seeds", str(tmp_path)]
        )
        assert result.exit_code == 0, result.output
        (payload,) = webhook.delivered
    expected = "".join(line[4:] for line in shown[1].splitlines(keepends=True))
    assert result.stdout == expected.replace(":8080/", f":{port}/")
    assert payload["title"] == "followup: test message to desk"
