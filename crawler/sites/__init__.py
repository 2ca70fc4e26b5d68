"""Site modules, one per source, registered by id (the `site` key of seeds/sources.toml).

Every module in this package is imported here, so a new site is a new module with a
`@register`-ed `Site` subclass, plus its fixture folder crawler/demo/sites/<id>/ (recorded
pages, mirror.toml, expected.json) and its entry in seeds/sources.toml.
"""

from __future__ import annotations

import importlib
import pkgutil

from crawler.sites.base import SITES, Site, get_site, register, site_for_url

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["SITES", "Site", "get_site", "register", "site_for_url"]
