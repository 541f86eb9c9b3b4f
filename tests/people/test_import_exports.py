"""Files as the tools reps use export them: each imports with the right deal values.

Excel (German locale) writes ``;``-separated cp1252; Outlook, Google Contacts and
HubSpot write their own headers; a file with one NUL byte and one 200 KiB cell among
500 good rows must enroll the 500 and set aside exactly those two rows.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sequencer.db.models import Enrollment, Prospect
from sequencer.errors import UserError
from sequencer.people.importing import ImportSummary, import_csv
from tests.people.world import World


def run_import(db: Any, world: World, clock: Any, path: Path, **kw: Any) -> ImportSummary:
    kw.setdefault("sequence_id", "nurture")
    return import_csv(db, world.config, world.sequences, path, now=clock.now(), **kw)


def prospects(db: Any) -> dict[str, Prospect]:
    with db.session() as s:
        return {p.email: p for p in s.scalars(select(Prospect))}


def enrolled(db: Any) -> set[str]:
    with db.session() as s:
        rows = s.execute(
            select(Prospect.email).join(Enrollment, Enrollment.prospect_id == Prospect.id)
        )
        return {email for (email,) in rows}


def read_rejects(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_excel_german_semicolon_cp1252(db, world, clock, tmp_path) -> None:
    path = tmp_path / "kontakte.csv"
    path.write_bytes(
        (
            "E-Mail;Vorname;Nachname;Firma;Betrag\r\n"
            "jürgen@müller.example;Jürgen;Müller;Müller & Söhne GmbH;€ 1.200,50\r\n"
            "anna@acme.de;Anna;Groß;Straße AG;1 200,50\r\n"
            "ben@acme.de;Ben;Weiß;Acme;12.000,00\r\n"
            "cem@acme.de;Cem;Öz;Acme;1.200\r\n"  # ambiguous: 1.2 or 1200
        ).encode("cp1252"),
    )
    summary = run_import(db, world, clock, path)
    assert (summary.encoding, summary.delimiter) == ("cp1252", ";")
    assert summary.enrolled == 3 and summary.rejected == {"bad_value": 1}
    got = prospects(db)
    assert got["anna@acme.de"].deal_value == Decimal("1200.50")
    assert got["ben@acme.de"].deal_value == Decimal("12000.00")
    juergen = next(p for e, p in got.items() if e.startswith("j"))
    assert (juergen.name, juergen.company) == ("Jürgen Müller", "Müller & Söhne GmbH")
    assert juergen.deal_value == Decimal("1200.50")
    [reject] = read_rejects(tmp_path / "kontakte.rejects.csv")
    assert (
        reject["row"] == "5" and "ambiguous" in reject["reason"] and "--decimal" in reject["reason"]
    )
    # saying which is the decimal separator lets the row in
    path.write_bytes("E-Mail;Betrag\r\ncem@acme.de;1.200\r\n".encode("cp1252"))
    assert run_import(db, world, clock, path, decimal=",").enrolled == 1
    assert prospects(db)["cem@acme.de"].deal_value == Decimal("1200.00")  # "." groups


def test_outlook_contacts_export(db, world, clock, tmp_path) -> None:
    path = tmp_path / "contacts.CSV"
    header = '"First Name","Middle Name","Last Name","Company","Job Title","E-mail Address","E-mail Type","E-mail Display Name","E-mail 2 Address","Business Phone"'
    rows = [
        '"Priya","","Lakeshore","Lakeshore Analytics","CTO","priya@lakeshore.example","SMTP","Priya Lakeshore (priya@lakeshore.example)","p@home.example","+1 555 0100"',
        '"Omar","","Haddad","Haddad & Co","","omar@haddad.example","SMTP","Omar Haddad","",""',
    ]
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("utf-8-sig"))
    summary = run_import(db, world, clock, path)
    assert summary.enrolled == 2 and summary.rejected == {}
    priya = prospects(db)["priya@lakeshore.example"]
    assert (priya.name, priya.company) == ("Priya Lakeshore", "Lakeshore Analytics")
    assert priya.fields["e_mail_2_address"] == "p@home.example"


def test_google_contacts_export(db, world, clock, tmp_path) -> None:
    path = tmp_path / "google.csv"
    path.write_text(
        "Name,Given Name,Additional Name,Family Name,Organization 1 - Name,"
        "E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Value\n"
        "Dana Whitfield,Dana,,Whitfield,Acme,* Work,dana@acme.com,dana@home.example\n"
        "Lee Jones,Lee,,Jones,Lake Co,* Work,lee@lake.example,\n",
        encoding="utf-8",
    )
    summary = run_import(db, world, clock, path)
    assert summary.enrolled == 2
    got = prospects(db)
    assert (got["dana@acme.com"].name, got["dana@acme.com"].company) == ("Dana Whitfield", "Acme")


def test_hubspot_export_with_deal_amounts(db, world, clock, tmp_path) -> None:
    path = tmp_path / "hubspot.csv"
    path.write_text(
        "Record ID,First Name,Last Name,Email,Company Name,Associated Company,Contact owner,Amount\n"
        '101,Kim,Park,kim@park.example,Park Ltd,Park Holdings,,"$1,200"\n'
        '102,Ana,Silva,ana@silva.example,Silva SA,,,"1,200.50"\n'
        "103,Raj,Iyer,raj@iyer.example,Iyer,,,1200\n",
        encoding="utf-8",
    )
    summary = run_import(db, world, clock, path)
    assert summary.enrolled == 3
    got = prospects(db)
    assert got["kim@park.example"].deal_value == Decimal("1200.00")
    assert got["kim@park.example"].company == "Park Ltd"
    assert got["ana@silva.example"].deal_value == Decimal("1200.50")
    assert got["raj@iyer.example"].deal_value == Decimal("1200.00")


def test_utf16_tab_separated_unicode_text(db, world, clock, tmp_path) -> None:
    path = tmp_path / "unicode.txt"
    path.write_bytes("Email\tName\tValue\r\nzoë@acme.example\tZoë\t900\r\n".encode("utf-16"))
    summary = run_import(db, world, clock, path)
    assert (summary.encoding, summary.delimiter, summary.enrolled) == ("utf-16", "\t", 1)


def test_map_option_and_ignored_columns(db, world, clock, tmp_path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("Work Mail|Org|Secret\nx@acme.com|Acme|s3\n", encoding="utf-8")
    with pytest.raises(UserError, match="no email column"):
        run_import(db, world, clock, path)
    summary = run_import(
        db, world, clock, path, mapping={"work_mail": "email", "org": "company", "secret": "-"}
    )
    assert summary.enrolled == 1 and summary.custom_fields == []
    assert prospects(db)["x@acme.com"].company == "Acme"


def test_nul_byte_and_200_kib_cell_among_500_good_rows(db, world, clock, tmp_path) -> None:
    path = tmp_path / "big.csv"
    lines = ["email,name,company,deal_value"]
    for i in range(500):
        lines.append(f'p{i}@acme.com,P {i},Acme,"1,{i:03d}.50"')
    lines.insert(101, "nul@acme.com,Nul\x00Byte,Acme,1")  # row 102
    lines.insert(301, "huge@acme.com,Huge," + "x" * (200 * 1024) + ",1")  # row 302
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = run_import(db, world, clock, path)
    assert summary.rows == 502 and summary.enrolled == 500
    assert summary.rejected == {"bad_cell": 2}
    assert enrolled(db) == {f"p{i}@acme.com" for i in range(500)}
    assert prospects(db)["p7@acme.com"].deal_value == Decimal("1007.50")
    rejects = read_rejects(tmp_path / "big.rejects.csv")
    assert [(r["row"], r["email"]) for r in rejects] == [
        ("102", "nul@acme.com"),
        ("302", "huge@acme.com"),
    ]
    assert "NUL" in rejects[0]["reason"] and "128 KiB" in rejects[1]["reason"]


def test_dry_run_shows_first_rows_as_parsed(db, world, clock, tmp_path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("E-mail Address;Company;Amount\na@acme.com;Acme;€ 1.200,50\n", encoding="utf-8")
    summary = run_import(db, world, clock, path, dry_run=True)
    assert summary.columns == {
        "E-mail Address": "email",
        "Company": "company",
        "Amount": "deal_value",
    }
    [row] = summary.preview
    assert (row["row"], row["email"], row["deal_value"]) == (2, "a@acme.com", Decimal("1200.50"))
    assert prospects(db) == {}
