"""The Clear Books sandbox over real HTTP, read with lxml and requests (never the portal's client)."""

import zeep


def test_it_serves_a_wsdl_zeep_can_read(sandbox):
    client = zeep.Client(sandbox.wsdl_url)
    operations = set(client.service._binding._operations)
    assert {"listEntities", "listInvoices", "listAccountCodes", "listBankAccounts", "listProjects"} <= operations
