"""The suite's own machinery: held pages, crawls in process with a held URL, reaped processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from crawler.mirror import Mirror, Page
from tests.helpers import WAIT_CEILING, crawl, held_settings, reaped, write_seeds

PAGE = "https://held.example.com/feed.xml"
EMPTY_FEED = b'<rss version="2.0"><channel><title>t</title></channel></rss>'


def test_a_held_page_answers_only_once_released() -> None:
    answers: list[bytes] = []
    with Mirror({PAGE: Page(b"body")}) as mirror:
        gate = mirror.hold(PAGE)
        url = mirror.url_for(PAGE)
        fetch = threading.Thread(target=lambda: answers.append(urllib.request.urlopen(url).read()))
        fetch.start()
        assert gate.arrived.wait(WAIT_CEILING)
        assert answers == [] and fetch.is_alive()  # asked for, and not answered
        gate.release()
        fetch.join(WAIT_CEILING)
    assert answers == [b"body"]


def test_a_held_list_times_out_and_the_other_sources_are_crawled(
    web: Mirror, tmp_path: Path
) -> None:
    web.set_page(PAGE, Page(EMPTY_FEED, "application/rss+xml"))
    gate = web.hold(PAGE)
    sources = (
        '[[source]]\nid = "held"\nsite = "generic"\nfeeds = ["{' + PAGE + '}"]\n\n'
        '[[source]]\nid = "news"\nsite = "generic"\nfeeds = ["{https://news.example.com/feed.xml}"]\n'
    )
    seeds = write_seeds(tmp_path / "seeds", web, sources)
    report = crawl(seeds, tmp_path / "f.db", settings=held_settings(web, PAGE))
    # The crawl ended while the page was still held: the client's timeout ended the request.
    assert gate.arrived.is_set() and not gate.released.is_set()
    assert report["held"]["lists_failed"] == 1 and report["held"]["lists_read"] == 0
    assert report["news"]["lists_read"] == 1 and report["news"]["new"] == 2


def test_reaped_kills_a_process_that_ignores_sigterm() -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(600)"
    )
    command = [sys.executable, "-c", stubborn]
    with reaped(subprocess.Popen(command, stdout=subprocess.PIPE, text=True), grace=1) as process:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    assert process.returncode == -signal.SIGKILL
    assert process.stdout.closed
