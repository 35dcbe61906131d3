from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_request_followup')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CatalogueItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='catalogue', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('hours', fields.DecimalField(null=True, max_digits=6, decimal_places=1)),
                ('points', fields.IntField(null=True)),
                ('stock', fields.IntField(null=True)),
                ('status', fields.CharField(default='active', max_length=16)),
                ('created_by', fields.ForeignKeyField('models.Person', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='catalogue_items', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'catalogue_item', 'app': 'models', 'indexes': [Index(fields=['org_id', 'status'])], 'pk_attr': 'id', 'table_description': '兑换目录里的一项：一个组织上架，标价小时或积分（二选一），库存为空表示不限。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsAppeal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='points_appeals', on_delete=OnDelete.CASCADE)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='points_appeals', on_delete=OnDelete.CASCADE)),
                ('text', fields.CharField(max_length=200)),
                ('status', fields.CharField(default='open', max_length=16)),
                ('officer', fields.ForeignKeyField('models.Person', source_field='officer_id', null=True, db_constraint=True, to_field='id', related_name='appeals_resolved', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_appeal', 'app': 'models', 'indexes': [Index(fields=['org_id', 'status'])], 'pk_attr': 'id', 'table_description': '一次积分（或时长）申诉：待处理 → 已处理（由一笔调整回应）。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Redemption',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('models.CatalogueItem', source_field='item_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(unique=True, max_length=6)),
                ('hours', fields.DecimalField(null=True, max_digits=6, decimal_places=1)),
                ('points', fields.IntField(null=True)),
                ('status', fields.CharField(default='issued', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_by', fields.ForeignKeyField('models.Person', source_field='used_by_id', null=True, db_constraint=True, to_field='id', related_name='redemptions_used', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'redemption', 'app': 'models', 'pk_attr': 'id', 'table_description': '一次兑换：核销码 6 位数字、一次有效、30 天内；核销时记下谁核销的。'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VolunteerClaim',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='volunteer_claims', on_delete=OnDelete.CASCADE)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='volunteer_claims', on_delete=OnDelete.CASCADE)),
                ('description', fields.CharField(max_length=200)),
                ('hours', fields.DecimalField(max_digits=6, decimal_places=1)),
                ('day', fields.DateField()),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('officer', fields.ForeignKeyField('models.Person', source_field='officer_id', null=True, db_constraint=True, to_field='id', related_name='claims_decided', on_delete=OnDelete.SET_NULL)),
                ('reason', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'volunteer_claim', 'app': 'models', 'indexes': [Index(fields=['org_id', 'status'])], 'pk_attr': 'id', 'table_description': '一次自报的志愿时长：待审核 → 已确认（记入时间银行）/ 未通过（写明原因）。'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='PointsEntry',
            name='appeal',
            field=fields.ForeignKeyField('models.PointsAppeal', source_field='appeal_id', null=True, db_constraint=True, to_field='id', related_name='points', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='PointsEntry',
            name='officer',
            field=fields.ForeignKeyField('models.Person', source_field='officer_id', null=True, db_constraint=True, to_field='id', related_name='points_adjusted', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='PointsEntry',
            name='reason',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Signup',
            name='late_cancel',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Signup',
            name='offer_expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='TimeBankEntry',
            name='appeal',
            field=fields.ForeignKeyField('models.PointsAppeal', source_field='appeal_id', null=True, db_constraint=True, to_field='id', related_name='timebank', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='TimeBankEntry',
            name='reason',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
    ]
