"""Scrapy spiders of the followup project."""
