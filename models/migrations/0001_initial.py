from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AccessToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=128)),
                ('token', fields.CharField(max_length=1024)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'access_token', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DialogState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_key', fields.CharField(max_length=160)),
                ('chat_key', fields.CharField(max_length=160)),
                ('dialog', fields.CharField(max_length=64)),
                ('step', fields.CharField(max_length=64)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'dialog_state', 'app': 'models', 'unique_together': (('user_key', 'chat_key'),), 'pk_attr': 'id', 'table_description': '一个人在一个会话里正在进行的多步对话；过期后提示已超时。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InboundEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('platform', fields.CharField(max_length=16)),
                ('event_key', fields.CharField(max_length=191)),
                ('user_key', fields.CharField(default='', max_length=160)),
                ('command', fields.CharField(default='', max_length=32)),
                ('reply', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'inbound_event', 'app': 'models', 'unique_together': (('platform', 'event_key'),), 'pk_attr': 'id', 'table_description': '每个被处理过的入站事件一行；(platform, event_key) 唯一，是"重试不重复执行"的依据。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Organization',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=100)),
                ('kind', fields.CharField(max_length=16)),
                ('parent', fields.ForeignKeyField('models.Organization', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('path', fields.CharField(default='/', db_index=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'organization', 'app': 'models', 'pk_attr': 'id', 'table_description': '党组织树：区委 → 街道党工委 → 社区党委 → 支部 → 网格/党小组。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Person',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('display_name', fields.CharField(default='', max_length=64)),
                ('real_name', fields.CharField(null=True, max_length=64)),
                ('phone', fields.CharField(null=True, max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'person', 'app': 'models', 'pk_attr': 'id', 'table_description': '一个人，可在多个平台有身份（微信 openid、QQ 号）。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupBinding',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('platform', fields.CharField(max_length=16)),
                ('chat_id', fields.CharField(max_length=128)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='groups', on_delete=OnDelete.CASCADE)),
                ('bound_by', fields.ForeignKeyField('models.Person', source_field='bound_by_id', null=True, db_constraint=True, to_field='id', related_name='bindings', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'group_binding', 'app': 'models', 'unique_together': (('platform', 'chat_id'),), 'pk_attr': 'id', 'table_description': '群与组织的绑定：之后在该群内的命令默认属于这个组织。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Identity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('platform', fields.CharField(max_length=16)),
                ('user_id', fields.CharField(max_length=128)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='identities', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'identity', 'app': 'models', 'unique_together': (('platform', 'user_id'),), 'pk_attr': 'id', 'table_description': '(平台, 平台用户 id) → Person，唯一。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoleGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=16)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', null=True, db_constraint=True, to_field='id', related_name='role_grants', on_delete=OnDelete.CASCADE)),
                ('granted_by', fields.CharField(default='', max_length=160)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'role_grant', 'app': 'models', 'unique_together': (('person', 'role', 'org'),), 'pk_attr': 'id', 'table_description': '角色授予。officer 限定于某个组织及其下级；member 记录所属组织；admin 全局。'},
            bases=['Model'],
        ),
    ]
