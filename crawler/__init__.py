"""followup: follow a news story across Chinese tech-news sources."""

__version__ = "0.1.0"
