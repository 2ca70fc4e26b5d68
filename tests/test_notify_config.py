"""seeds/notify.toml: what it accepts, and one clear line (exit 2) for what it does not."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import ConfigError, load_seeds
from crawler.notify.deliver import check_targets
from crawler.notify.targets import Target, load_targets, mask_url

SOURCES = '[[source]]\nid = "news"\nfeeds = ["https://a.example/feed"]\n'
TOPICS = '[[topic]]\nid = "interop"\nquery = "淘宝"\n\n[[topic]]\nid = "brokers"\nquery = "券商"\n'


def seeds(tmp_path: Path, notify: str) -> Path:
    (tmp_path / "sources.toml").write_text(SOURCES)
    (tmp_path / "topics.toml").write_text(TOPICS)
    (tmp_path / "notify.toml").write_text(notify)
    return tmp_path


def targets(directory: Path) -> tuple[Target, ...]:
    return load_targets(directory, topics=load_seeds(directory).topics)


def test_the_issue_example_and_defaults(tmp_path: Path) -> None:
    directory = seeds(
        tmp_path,
        """
[[notify]]
id = "desk"
url = "json://127.0.0.1:8080/hook"
topics = ["interop"]
mode = "digest"
every = "1d"
at = "08:30"
events = ["new", "health"]

[[notify]]
id = "wecom"
url = "wecombot://0123456789abcdef"
""",
    )
    desk, wecom = targets(directory)
    assert (desk.topics, desk.mode, desk.every, desk.at) == (
        ("interop",),
        "digest",
        timedelta(days=1),
        time(8, 30),
    )
    assert (wecom.topics, wecom.mode, wecom.events, wecom.burst) == (
        (),
        "each",
        ("new", "health"),
        20,
    )
    assert wecom.byte_limit == 2048 and desk.byte_limit is None
    assert wecom.shown == "wecombot://***" and desk.shown == "json://127.0.0.1:8080/***"
    check_targets([desk, wecom])  # both are URLs Apprise knows


def test_no_notify_toml_means_no_targets(tmp_path: Path) -> None:
    assert load_targets(tmp_path) == ()


def test_secrets_come_from_the_environment_and_are_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = seeds(tmp_path, '[[notify]]\nid = "bot"\nurl = "env:FOLLOWUP_TEST_HOOK"\n')
    monkeypatch.setenv("FOLLOWUP_TEST_HOOK", "tgram://123456:SECRETTOKEN/987654")
    (bot,) = targets(directory)
    assert bot.url == "tgram://123456:SECRETTOKEN/987654" and bot.shown == "env:FOLLOWUP_TEST_HOOK"

    monkeypatch.delenv("FOLLOWUP_TEST_HOOK")
    result = CliRunner().invoke(cli, ["notify", "test", "--seeds", str(directory)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {directory}/notify.toml: [[notify]] #1 (id 'bot'): key 'url': "
        "environment variable FOLLOWUP_TEST_HOOK is not set; export it\n"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "mailto://user:hunter2@smtp.example.com:587?to=a@b.c",
            "mailto://***@smtp.example.com:587/***",
        ),
        ("json://127.0.0.1:8080/hook", "json://127.0.0.1:8080/***"),
        ("dingtalk://SECRETTOKEN/", "dingtalk://***"),
        ("tgram://123456:SECRET/987", "tgram://***"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "slack://***/***"),
        ("ntfy://ntfy.sh/mytopic", "ntfy://ntfy.sh/***"),
    ],
)
def test_masked_urls_keep_no_secret(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    for secret in ("hunter2", "SECRET", "TIiajkdnlazkcOXrIdevi7FQ", "mytopic"):
        assert secret not in mask_url(url)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('id = "a"', "key 'url': missing; it is required"),
        (
            'id = "a"\nurl = "hooks.example.com/x"',
            "key 'url': *** is not an Apprise URL; write e.g. json://host/path",
        ),
        (
            'id = "a"\nurl = "json://h.example/x"\nmode = "weekly"',
            "key 'mode': 'weekly' is not one of 'each', 'digest'",
        ),
        (
            'id = "a"\nurl = "json://h.example/x"\ntopics = ["nope"]',
            "key 'topics': unknown topic 'nope'; known: brokers, interop",
        ),
        (
            'id = "a"\nurl = "json://h.example/x"\nevents = ["new", "gossip"]',
            "key 'events': unknown event 'gossip'; known: health, new",
        ),
        (
            'id = "a"\nurl = "json://h.example/x"\nat = "8.30"',
            "key 'at': '8.30' is not a time of day; write HH:MM",
        ),
        (
            'id = "a"\nurl = "json://h.example/x"\nevery = "daily"',
            "key 'every': 'daily' is not a duration",
        ),
        (
            'id = "a"\nurl = "json://h.example/x"\nburst = 0',
            "key 'burst': must be a positive whole number, not 0",
        ),
        (
            'id = "a"\nurl = "json://h.example/x"\nchannel = "x"',
            "key 'channel': unknown key; allowed: at, burst",
        ),
    ],
)
def test_config_errors_name_file_entry_key_and_fix(
    tmp_path: Path, entry: str, message: str
) -> None:
    directory = seeds(tmp_path, f"[[notify]]\n{entry}\n")
    with pytest.raises(ConfigError) as error:
        targets(directory)
    assert str(error.value).startswith(
        f"{directory}/notify.toml: [[notify]] #1 (id 'a'): {message}"
    )


def test_a_url_apprise_does_not_know_is_a_config_error_with_the_secret_masked(
    tmp_path: Path,
) -> None:
    directory = seeds(tmp_path, '[[notify]]\nid = "x"\nurl = "wecom://SECRETKEY/abc"\n')
    result = CliRunner().invoke(
        cli, ["crawl", "--seeds", str(directory), "--db", str(tmp_path / "f.db")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {directory}/notify.toml: [[notify]] #1 (id 'x'): key 'url': wecom://***/*** "
        "is not a URL Apprise knows; see https://github.com/caronc/apprise/wiki"
    )
    assert "SECRETKEY" not in result.output
    assert not (tmp_path / "f.db").exists()  # refused before anything ran


def test_notify_commands_without_notify_toml(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(SOURCES)
    (tmp_path / "topics.toml").write_text(TOPICS)
    result = CliRunner().invoke(cli, ["notify", "test", "--seeds", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {tmp_path}/notify.toml: no such file; add a [[notify]] entry "
        "(see README, Notifications)\n"
    )
    bad = seeds(tmp_path, '[[notify]]\nid = "a"\nurl = "json://h.example/x"\n')
    unknown = CliRunner().invoke(cli, ["notify", "test", "--seeds", str(bad), "--target", "b"])
    assert unknown.exit_code == 2 and "no target with id 'b'; known: a" in unknown.stderr
