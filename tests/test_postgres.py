"""The PostgreSQL the shared store runs on, as the tests start it: a real server from the
system packages, UTF-8, pg_trgm available and seeing Chinese text."""

from __future__ import annotations

import pytest

from tests.services import (
    REQUIRE_POSTGRES,
    PostgresServer,
    ServiceUnavailable,
    postgres,  # noqa: F401 (a fixture)
    postgres_unavailable,
)


def test_postgres_that_cannot_start_is_skipped_loudly_or_fails_when_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REQUIRE_POSTGRES, raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL tests skipped: no initdb"):
        postgres_unavailable(ServiceUnavailable("no initdb"))
    monkeypatch.setenv(REQUIRE_POSTGRES, "1")
    with pytest.raises(
        pytest.fail.Exception, match=r"required \(FOLLOWUP_REQUIRE_POSTGRES=1\) but no initdb"
    ):
        postgres_unavailable(ServiceUnavailable("no initdb"))


psycopg = pytest.importorskip("psycopg", reason="psycopg is in the [postgres] extra")


def test_the_cluster_is_utf8_with_a_utf8_collation(postgres: PostgresServer) -> None:  # noqa: F811
    with psycopg.connect(postgres.url()) as conn:
        row = conn.execute(
            "SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row == ("UTF8", "C.UTF-8")


def test_pg_trgm_makes_trigrams_of_chinese_text(postgres: PostgresServer) -> None:  # noqa: F811
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        (trigrams,) = conn.execute("SELECT show_trgm('阿里腾讯互联互通')").fetchone()
        (similar,) = conn.execute("SELECT '阿里腾讯互联互通' % '阿里与腾讯互联互通'").fetchone()
    # Under the C locale Chinese characters are not word characters and this list is empty.
    assert len(trigrams) >= 6
    assert similar is True
