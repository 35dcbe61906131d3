from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_activity_ledgers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Onebot12Bridge',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('impl', fields.CharField(unique=True, max_length=64)),
                ('version', fields.CharField(default='', max_length=32)),
                ('interval_ms', fields.IntField(default=0)),
                ('good', fields.BooleanField(default=True)),
                ('bots', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('last_seen', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'onebot12_bridge', 'app': 'models', 'pk_attr': 'id', 'table_description': '一个 OneBot 12 实现（按 X-Impl 区分）：版本、心跳间隔、是否正常、它的机器人账号。'},
            bases=['Model'],
        ),
    ]
