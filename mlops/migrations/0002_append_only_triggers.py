"""On PostgreSQL, the audit tables refuse UPDATE and DELETE in the database itself, whatever
the client (the ORM already refuses them; this covers raw SQL and other tools too)."""

from django.db import migrations

TABLES = ("mlops_tagdecision", "mlops_stageevent", "mlops_policychange")

FUNCTION = """
CREATE OR REPLACE FUNCTION linkhub_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit rows in % are append-only (% refused)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION linkhub_audit_append_only()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS linkhub_audit_append_only()")


class Migration(migrations.Migration):
    dependencies = [("mlops", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
