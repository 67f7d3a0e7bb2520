"""The table of the API's rate limit counts (a Django database cache), so a fresh clone has
it after `migrate`. With REDIS_URL set the counts live in Redis and the table stays empty."""

from django.core.management import call_command
from django.db import migrations

TABLE = "api_rate_counts"


def create_table(apps, schema_editor):
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def drop_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial")]

    operations = [migrations.RunPython(create_table, drop_table)]
