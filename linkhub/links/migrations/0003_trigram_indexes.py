"""PostgreSQL: trigram indexes so that substring search on titles and URLs uses an index.

Search matches ``search_vector`` OR ``UPPER(title) LIKE`` OR ``UPPER(url) LIKE``; with these
three indexes the planner can answer a selective query with a BitmapOr instead of reading every
one of the user's links. The pg_trgm extension is trusted (PostgreSQL 13+), so a database owner
may create it; where that is refused, search still works, only without these indexes.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        logger.warning("pg_trgm is not available (%s); substring search runs without an index", exc)
        return
    for name, column in (("link_title_trgm", "title"), ("link_url_trgm", "url")):
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON links_link "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS link_title_trgm")
        schema_editor.execute("DROP INDEX IF EXISTS link_url_trgm")


class Migration(migrations.Migration):
    dependencies = [("links", "0002_search_index_and_schedules")]
    operations = [migrations.RunPython(create, drop)]
