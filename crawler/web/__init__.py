"""`followup serve`: the store browsed in Datasette (the `web` extra).

`metadata.yml` holds the titles, hidden tables, sorts, facets and canned queries; `plugin.py`
shows times in Beijing time and links titles to the original articles; `app.py` builds the
Datasette instance and runs it. Only `app.py` and `plugin.py` import Datasette.
"""
