from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_scale_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GroupSetting',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat_key', fields.CharField(unique=True, max_length=191)),
                ('auto_intake', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'group_setting', 'app': 'models', 'pk_attr': 'id', 'table_description': '一个群的开关（/设置）：自动受理 = 群里像诉求的话，问一句要不要登记。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PromptGate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=191)),
                ('until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'prompt_gate', 'app': 'models', 'pk_attr': 'id', 'table_description': 'At most one prompt per key until `until` ("group:…" 5 minutes, "person:…" 30),'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Residence',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_key', fields.CharField(unique=True, max_length=191)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='residences', on_delete=OnDelete.CASCADE)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'residence', 'app': 'models', 'pk_attr': 'id', 'table_description': '一个平台身份属于哪个社区（组织）：最近一次在绑定了组织的群里说话，或 /我的社区。'},
            bases=['Model'],
        ),
    ]
