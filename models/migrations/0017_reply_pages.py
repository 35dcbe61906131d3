from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0016_request_reminded')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReplyPages',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_key', fields.CharField(max_length=160)),
                ('chat_key', fields.CharField(max_length=160)),
                ('pages', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('total', fields.IntField(default=0)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'reply_pages', 'app': 'models', 'unique_together': (('user_key', 'chat_key'),), 'pk_attr': 'id', 'table_description': '一个人在一个会话里还没看的后续页；新的长回复替换旧的。'},
            bases=['Model'],
        ),
    ]
