from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("models", "0025_checkin_count_index")]

    initial = False

    # A firing's rows in id order: the broadcast's claims (pending, id > cursor), its
    # totals and the crash recovery read the firing's rows only, not the whole table. Not
    # status: every row changes it twice, and the index would then change with it. The
    # firing_id index of 0005 (db_index on an added field) was never created.
    operations = [
        ops.AddIndex(
            model_name="Delivery",
            index=Index(fields=["firing_id", "id"]),
        ),
    ]
