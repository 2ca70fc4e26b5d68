"""Notifications: new coverage and source health problems, delivered through Apprise.

`targets` reads seeds/notify.toml, `outbox` keeps the notifications table, `messages` and
`health` are pure, `deliver` is the only module that imports Apprise, and `sender` runs a
delivery round.
"""
