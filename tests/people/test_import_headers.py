"""Header synonyms of the CRM exports issue 19 names that the export tests do not import.

``test_import_exports.py`` imports Excel, Outlook, Google Contacts and HubSpot files
end to end; these are the header rows of Salesforce, Pipedrive and LinkedIn exports,
each read into the prospect fields without a ``--map``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sequencer.people.importing.columns import map_columns

EXPORTS = {
    "salesforce contacts report": (
        ["First Name", "Last Name", "Title", "Account Name", "Email", "Contact Owner"],
        {"first_name": "First Name", "last_name": "Last Name", "company": "Account Name",
         "email": "Email", "owner": "Contact Owner"},
    ),
    "pipedrive deals": (
        ["Deal - Title", "Deal - Value", "Deal - Currency", "Person - Name", "Person - Email",
         "Organization - Name", "Deal - Owner"],
        {"deal_value": "Deal - Value", "name": "Person - Name", "email": "Person - Email",
         "company": "Organization - Name", "owner": "Deal - Owner"},
    ),
    "linkedin connections": (
        ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"],
        {"first_name": "First Name", "last_name": "Last Name", "email": "Email Address",
         "company": "Company"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_crm_export_headers_map_to_prospect_fields(export: str) -> None:
    header, expected = EXPORTS[export]
    columns = map_columns(header, Path(f"{export}.csv"))
    fields = {c.name: raw for c, raw in zip(columns, header, strict=True) if c.kind == "field"}
    assert fields == expected
    custom = {c.name for c in columns if c.kind == "custom"}
    assert all(name.islower() and " " not in name for name in custom)  # kept as template fields
