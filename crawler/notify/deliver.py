"""The only module that imports Apprise: one message to one target, or a clear error."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from types import ModuleType

from crawler.config import ConfigError
from crawler.notify.messages import Message, fit
from crawler.notify.targets import Target

INSTALL_HINT = "pip install 'followup-crawler[notify]'"
URL_HELP = "see https://github.com/caronc/apprise/wiki for the URL of each service"


class DeliveryError(RuntimeError):
    """A message a service did not take; the message says why."""


def _apprise() -> ModuleType:
    try:
        import apprise
    except ImportError:
        raise ConfigError(
            f"notify.toml names targets but Apprise is not installed: {INSTALL_HINT}"
        ) from None
    return apprise


def check_targets(targets: Iterable[Target]) -> None:
    """Raise ConfigError for a target whose URL Apprise does not know."""
    apprise = _apprise()
    for target in targets:
        with apprise.LogCapture(level=logging.WARNING):
            plugin = apprise.Apprise.instantiate(target.url)
        if plugin is None:
            raise ConfigError(
                f"{target.where}: key 'url': {target.shown} is not a URL Apprise knows; {URL_HELP}"
            )


def send_message(target: Target, message: Message) -> None:
    """Deliver a message (in parts where the service limits bytes); DeliveryError if refused."""
    apprise = _apprise()
    client = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING) as log:
        if not client.add(target.url):
            raise DeliveryError(f"{target.shown} is not a URL Apprise knows; {URL_HELP}")
        for part in fit(message, target.byte_limit):
            body_format = (
                apprise.NotifyFormat.MARKDOWN if part.markdown else apprise.NotifyFormat.TEXT
            )
            if not client.notify(body=part.body, title=part.title, body_format=body_format):
                raise DeliveryError(_reason(log.getvalue(), target))


def _reason(log: str, target: Target) -> str:
    """The last thing Apprise logged about the failure, without the URL's secrets."""
    lines = [line.split(" - ", 2)[-1] for line in log.strip().splitlines()]
    reason = lines[-1] if lines else "the service did not accept the message"
    return reason.replace(target.url, target.shown)
