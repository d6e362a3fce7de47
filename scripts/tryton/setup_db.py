#!/usr/bin/python3
"""Seed a fresh Tryton 6.0 database for Crossdock's ERP tests (run by Debian's /usr/bin/python3).

Why a proteus script: it drives Tryton's own models and wizards in-process (no server), so the
prepared database is exactly what the real UI would produce: company, chart of accounts, fiscal
year with invoice sequences, a payment term, an accounting product category, products with stock
in the warehouse, a contract price list, customers with credit limits, and an integration user
WITHOUT the "Account Credit Limit" group (so a credit refusal is a hard error, never a warning).
The helpers under trytond.modules.*.tests.tools switch Tryton into test mode, so the few steps we
need are written out here.

Usage: setup_db.py <trytond.conf> <database> <manifest.json> <integration password>
"""
import datetime
import json
import sys
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from proteus import Model, Wizard
from proteus import config as proteus_config

CONF, DB, MANIFEST, INTEGRATION_PASSWORD = sys.argv[1:5]

config = proteus_config.set_trytond(database=DB, config_file=CONF)
today = datetime.date.today()

Currency = Model.get('currency.currency')
CurrencyRate = Model.get('currency.currency.rate')
Party = Model.get('party.party')
User = Model.get('res.user')
Group = Model.get('res.group')
ModelData = Model.get('ir.model.data')


def xml_ref(module, fs_id):
    data, = ModelData.find([('module', '=', module), ('fs_id', '=', fs_id)], limit=1)
    return data.db_id


# Currency and company -------------------------------------------------------------------------
usd = Currency.find([('code', '=', 'USD')])
if usd:
    usd, = usd
else:
    usd = Currency(name='U.S. Dollar', symbol='$', code='USD', rounding=Decimal('0.01'))
    usd.save()
    CurrencyRate(date=datetime.date.min, rate=Decimal('1.0'), currency=usd).save()

company_config = Wizard('company.company.config')
company_config.execute('company')
company_party = Party(name='Crossdock Demo Distributor')
company_party.save()
company_config.form.party = company_party
company_config.form.currency = usd
company_config.execute('add')
config._context = User.get_preferences(True, {})
Company = Model.get('company.company')
company, = Company.find()

# Chart of accounts ----------------------------------------------------------------------------
AccountTemplate = Model.get('account.account.template')
Account = Model.get('account.account')
create_chart = Wizard('account.create_chart')
create_chart.execute('account')
create_chart.form.account_template = AccountTemplate(xml_ref('account', 'account_template_root_en'))
create_chart.form.company = company
create_chart.execute('create_account')


def account_of(kind):
    account, = Account.find([('type.%s' % kind, '=', True), ('company', '=', company.id)], limit=1)
    return account


receivable = account_of('receivable')
payable = account_of('payable')
revenue = account_of('revenue')
expense = account_of('expense')
create_chart.form.account_receivable = receivable
create_chart.form.account_payable = payable
create_chart.execute('create_properties')

# Fiscal year with move and invoice sequences --------------------------------------------------
FiscalYear = Model.get('account.fiscalyear')
Sequence = Model.get('ir.sequence')
SequenceStrict = Model.get('ir.sequence.strict')
SequenceType = Model.get('ir.sequence.type')
move_type, = SequenceType.find([('name', '=', 'Account Move')], limit=1)
invoice_type, = SequenceType.find([('name', '=', 'Invoice')], limit=1)
fiscalyear = FiscalYear(name=str(today.year), company=company)
fiscalyear.start_date = today + relativedelta(month=1, day=1)
fiscalyear.end_date = today + relativedelta(month=12, day=31)
move_seq = Sequence(name=str(today.year), sequence_type=move_type, company=company)
move_seq.save()
fiscalyear.post_move_sequence = move_seq
invoice_seq = SequenceStrict(name=str(today.year), sequence_type=invoice_type, company=company)
invoice_seq.save()
seq, = fiscalyear.invoice_sequences
seq.out_invoice_sequence = invoice_seq
seq.in_invoice_sequence = invoice_seq
seq.out_credit_note_sequence = invoice_seq
seq.in_credit_note_sequence = invoice_seq
fiscalyear.save()
fiscalyear.click('create_period')

# Payment term ---------------------------------------------------------------------------------
PaymentTerm = Model.get('account.invoice.payment_term')
net30 = PaymentTerm(name='NET30')
line = net30.lines.new(type='remainder')
line.relativedeltas.new(days=30)
net30.save()

# Products -------------------------------------------------------------------------------------
ProductCategory = Model.get('product.category')
category = ProductCategory(name='Distribution goods')
category.accounting = True
category.account_revenue = revenue
category.account_expense = expense
category.save()
Uom = Model.get('product.uom')
unit, = Uom.find([('name', '=', 'Unit')])
ProductTemplate = Model.get('product.template')
catalogue = [
    ('SKU-1001', 'Steel bracket 40mm', Decimal('12.50'), 500),
    ('SKU-1002', 'Hex bolt M8 (box of 100)', Decimal('8.00'), 800),
    ('SKU-1003', 'Cordless drill 18V', Decimal('129.00'), 60),
    ('SKU-1004', 'Safety gloves (pair)', Decimal('4.20'), 1000),
    ('SKU-1005', 'Pallet jack 2.5t', Decimal('450.00'), 0),
]
products = {}
for sku, name, price, _qty in catalogue:
    template = ProductTemplate(name=name, code=sku, default_uom=unit, type='goods', salable=True)
    template.list_price = price
    template.account_category = category
    template.save()
    product, = template.products
    products[sku] = product

Location = Model.get('stock.location')
storage, = Location.find([('code', '=', 'STO')])
warehouse, = Location.find([('code', '=', 'WH')])
Inventory = Model.get('stock.inventory')
inventory = Inventory(location=storage)
for sku, _name, _price, qty in catalogue:
    if qty:
        inv_line = inventory.lines.new(product=products[sku])
        inv_line.quantity = float(qty)
        inv_line.expected_quantity = 0.0
inventory.click('confirm')
assert inventory.state == 'done', inventory.state

# Contract price list: 10 % off SKU-1001 and SKU-1003 ------------------------------------------
PriceList = Model.get('product.price_list')
contract = PriceList(name='Contract A (10% off tools)')
for sku in ('SKU-1001', 'SKU-1003'):
    pl_line = contract.lines.new()
    pl_line.product = products[sku]
    pl_line.formula = 'unit_price * Decimal("0.9")'
pl_line = contract.lines.new()
pl_line.formula = 'unit_price'
contract.save()

# Customers ------------------------------------------------------------------------------------
Country = Model.get('country.country')
us = Country.find([('code', '=', 'US')])
if us:
    us, = us
else:
    us = Country(name='United States', code='US')
    us.save()


def customer(code, name, limit, street, city, zip_code):
    party = Party(name=name, code=code)
    party.customer_payment_term = net30
    party.credit_limit_amount = limit
    party.sale_price_list = contract
    address, = party.addresses
    address.street = street
    address.city = city
    address.postal_code = zip_code
    address.country = us
    address.invoice = True
    address.delivery = True
    party.save()
    return party


in_credit = customer('CUST-IN-CREDIT', 'Acme Hardware', Decimal('1000000'), '1 Main Street', 'Springfield', '62701')
over_limit = customer('CUST-OVER-LIMIT', 'Overdrawn Supply Co', Decimal('1'), '9 Debt Lane', 'Shelbyville', '62565')

# Integration user (no "Account Credit Limit" group) --------------------------------------------
group_ids = [
    xml_ref('sale', 'group_sale'),
    xml_ref('sale', 'group_sale_admin'),
    xml_ref('stock', 'group_stock'),
    xml_ref('party', 'group_party_admin'),
    xml_ref('product', 'group_product_admin'),
    xml_ref('account', 'group_account'),
]
credit_group = xml_ref('account_credit_limit', 'group_credit_limit')
assert credit_group not in group_ids
integration = User(name='Crossdock integration', login='crossdock')
integration.password = INTEGRATION_PASSWORD
integration.companies.append(Company(company.id))
integration.company = Company(company.id)
for gid in group_ids:
    integration.groups.append(Group(gid))
integration.save()
integration_groups = [g.id for g in User(integration.id).groups]
assert credit_group not in integration_groups, 'integration user must not override credit limits'

manifest = {
    'database': DB,
    'company': {'id': company.id, 'name': company_party.name, 'currency': 'USD'},
    'warehouse': {'id': warehouse.id, 'code': 'WH', 'storageId': storage.id},
    'integrationUser': {'login': 'crossdock', 'id': integration.id},
    'customers': {
        'inCredit': {'id': in_credit.id, 'code': in_credit.code, 'name': in_credit.name, 'creditLimit': '1000000'},
        'overLimit': {'id': over_limit.id, 'code': over_limit.code, 'name': over_limit.name, 'creditLimit': '1'},
    },
    'products': [
        {'sku': sku, 'id': products[sku].id, 'name': name, 'listPrice': str(price), 'onHand': qty}
        for sku, name, price, qty in catalogue
    ],
    'priceList': {'id': contract.id, 'name': contract.name},
    'paymentTerm': {'id': net30.id, 'name': net30.name},
}
with open(MANIFEST, 'w') as fh:
    json.dump(manifest, fh, indent=2)
print('seeded', DB)
