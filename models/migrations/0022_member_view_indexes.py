from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

# PostgreSQL only: "path LIKE '/1/2/%'" (every subtree filter, orgs_under) can use a
# pattern index whatever the database's collation; without it each one read every
# organisation. SQLite has no operator classes (and no need: its LIKE runs in-process).
PATH_INDEX = "idx_organization_path_pattern"


async def _path_index(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            f"CREATE INDEX IF NOT EXISTS {PATH_INDEX} ON organization (path varchar_pattern_ops)"
        )


async def _drop_path_index(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {PATH_INDEX}")


class Migration(migrations.Migration):
    dependencies = [('models', '0021_nickname')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='PointsEntry',
            index=Index(fields=['person_id', 'created_at', 'kind', 'points']),
        ),
        ops.RunPython(_path_index, reverse_code=_drop_path_index),
    ]
