from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_web')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContactLadder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.OneToOneField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='ladder', on_delete=OnDelete.CASCADE)),
                ('stage', fields.CharField(default='normal', db_index=True, max_length=16)),
                ('since', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_contact_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'contact_ladder', 'app': 'models', 'pk_attr': 'id', 'table_description': '一位党员在阶梯上的位置：阶段、从何时起、那时的最后联系。No row means 正常.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Household',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('grid', fields.ForeignKeyField('models.Organization', source_field='grid_id', db_constraint=True, to_field='id', related_name='households', on_delete=OnDelete.RESTRICT)),
                ('address', fields.CharField(max_length=100)),
                ('address_key', fields.CharField(max_length=100)),
                ('head_name', fields.CharField(default='', max_length=32)),
                ('phone', fields.CharField(default='', max_length=20)),
                ('tags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('worker', fields.ForeignKeyField('models.Person', source_field='worker_id', null=True, db_constraint=True, to_field='id', related_name='grid_households', on_delete=OnDelete.SET_NULL)),
                ('member', fields.ForeignKeyField('models.Person', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='member_households', on_delete=OnDelete.SET_NULL)),
                ('note', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'household', 'app': 'models', 'unique_together': (('grid_id', 'address_key'),), 'indexes': [Index(fields=['worker_id'])], 'pk_attr': 'id', 'table_description': '一户：地址（照写，另存规范化的匹配键）、户主、电话、标签、网格员。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LadderEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='ladder_events', on_delete=OnDelete.CASCADE)),
                ('from_stage', fields.CharField(max_length=16)),
                ('to_stage', fields.CharField(max_length=16)),
                ('reason', fields.CharField(max_length=16)),
                ('via', fields.CharField(default='', max_length=16)),
                ('actor', fields.ForeignKeyField('models.Person', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='ladder_actions', on_delete=OnDelete.SET_NULL)),
                ('note', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ladder_event', 'app': 'models', 'indexes': [Index(fields=['person_id', 'created_at'])], 'pk_attr': 'id', 'table_description': '阶梯上的一步：谁、从哪一级到哪一级、因为什么（auto / confirm / contact）、何时。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Visit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.CASCADE)),
                ('grid', fields.ForeignKeyField('models.Organization', source_field='grid_id', db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.RESTRICT)),
                ('worker', fields.ForeignKeyField('models.Person', source_field='worker_id', db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.RESTRICT)),
                ('visited_on', fields.DateField()),
                ('mode', fields.CharField(default='visit', max_length=8)),
                ('note', fields.TextField(default='', unique=False)),
                ('request', fields.ForeignKeyField('models.ServiceRequest', source_field='request_id', null=True, db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.SET_NULL)),
                ('chat', fields.CharField(default='', max_length=191)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'visit', 'app': 'models', 'indexes': [Index(fields=['household_id', 'visited_on']), Index(fields=['grid_id', 'visited_on']), Index(fields=['worker_id', 'visited_on'])], 'pk_attr': 'id', 'table_description': '一次走访：哪天、哪户、哪位网格员、方式（上门/电话/微信/其他）、记录、转成的诉求。'},
            bases=['Model'],
        ),
    ]
