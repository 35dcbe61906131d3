from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("models", "0024_officer_view_indexes")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="CheckIn",
            index=Index(fields=["org_id", "left_at", "kind", "person_id"]),
        ),
    ]
