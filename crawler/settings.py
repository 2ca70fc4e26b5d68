"""Scrapy settings of the followup project (also used by `scrapy crawl followup`)."""

from __future__ import annotations

import os

from crawler import __version__

BOT_NAME = "followup"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Where the seeds and the database are; the CLI's --seeds / --db set these too.
FOLLOWUP_SEEDS = os.environ.get("FOLLOWUP_SEEDS", "seeds")
FOLLOWUP_DB = os.environ.get("FOLLOWUP_DB", "followup.db")
# First retry waits this many seconds, each further retry twice as long.
FOLLOWUP_RETRY_BACKOFF = 2.0

# Polite by default: an honest User-Agent, robots.txt, at most two requests per site at once,
# AutoThrottle adapting the pace to each server's latency.
USER_AGENT = (
    f"followup/{__version__} (news follow-up monitor; +https://github.com/followup-crawler)"
)
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_TIMES = 2
DOWNLOADER_MIDDLEWARES = {
    # Scrapy's robots.txt middleware stays; ours, just after it, answers its robots.txt
    # requests from the store and keeps what it fetches.
    "crawler.middlewares.StoredRobotsTxtMiddleware": 110,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # After the retry middleware's backoff wait: each attempt gets what is left of the deadline.
    "crawler.faults.ResponseDeadlineMiddleware": 560,
    # Above Scrapy's RedirectMiddleware (600): it sees a 3xx before the redirect is followed.
    "crawler.middlewares.OffsiteRedirectMiddleware": 650,
}
# A 429's Retry-After is honoured up to this many seconds; a longer one gives the request up
# for this run (the daemon's backoff spaces the next runs of that source).
FOLLOWUP_RETRY_AFTER_MAX = 120.0
# A URL's total time downloading, all its attempts included (waits a server asked for with
# Retry-After, and retry backoff, are not counted): a server trickling bytes cannot hold a crawl.
FOLLOWUP_RESPONSE_DEADLINE = 60.0
# How long a host's robots.txt is reused from the store before it is fetched again.
FOLLOWUP_ROBOTSTXT_MAX_AGE = 24 * 3600
# A database that fails (disk full, damaged file) ends the crawl with one line, not a
# traceback per callback.
SPIDER_MIDDLEWARES = {"crawler.faults.StoreFailureMiddleware": 50}
ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 300}
# The store pipeline is synchronous: items gain nothing from running side by side, and Scrapy
# starts this many asyncio tasks for every response that yields anything (a page yields one
# item) — with the default 100 that was a fifth of the crawl's CPU.
CONCURRENT_ITEMS = 1
LOG_FORMATTER = "crawler.logformatter.DropLogFormatter"

# Each crawl is short-lived; nothing to telnet into, nor to remote-control (Scrapy 2.19 opens
# an HTTP server per crawl for that and leaves its job file behind when a crawl is killed).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
