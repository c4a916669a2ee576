"""SQL actions: ``sql/query`` against PostgreSQL, MySQL/MariaDB and SQLite."""

__all__: list[str] = []
