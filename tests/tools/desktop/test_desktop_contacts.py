"""get_phone_number / get_email_address: fuzzy but never a guess."""

from __future__ import annotations

import pytest

from tinycrew.tools import Tool
from tinycrew.tools.desktop.contacts import parse_vcards

from .conftest import error, ok


@pytest.mark.parametrize(
    ("name", "email"),
    [
        ("Odile", "odile.menard@herisson-conservation.org"),
        ("Odile Ménard", "odile.menard@herisson-conservation.org"),
        ("odile menard", "odile.menard@herisson-conservation.org"),
        ("MÉNARD", "odile.menard@herisson-conservation.org"),
        ("Odille", "odile.menard@herisson-conservation.org"),  # a typo, one clear winner
        ("Quentin", "quentin.fournier@example.fr"),
        ("Betty", "bettina.k@example.de"),  # a nickname
        ("Kofi", "kofi.mensah@example.com.gh"),
        ("Mum", "maggie.whitfield@example.co.uk"),
        ("Zoe", "zoe.lindqvist@example.se"),
        ("siobhan o'connor", "siobhan.oconnor@example.ie"),
        ("kofi.mensah@example.com.gh", "kofi.mensah@example.com.gh"),
    ],
)
def test_email_address_by_name(tools: dict[str, Tool], name: str, email: str) -> None:
    assert ok(tools["get_email_address"], name=name) == email


def test_phone_prefers_the_mobile(tools: dict[str, Tool]) -> None:
    assert ok(tools["get_phone_number"], name="Kofi Mensah") == "+233 24 555 0142"
    assert ok(tools["get_phone_number"], name="Maggie") == "+44 7700 900 456"  # CELL before HOME


def test_unknown_and_ambiguous_names_are_errors_with_candidates(tools: dict[str, Tool]) -> None:
    assert error(tools["get_email_address"], name="Bob") == "error: no contact named 'Bob'"
    ambiguous = error(tools["get_phone_number"], name="Lefèvre")
    assert (
        "several contacts" in ambiguous and "Mathieu Lefèvre" in ambiguous and "Mathilde Lefèvre" in ambiguous
    )
    close = error(tools["get_email_address"], name="Mathi")
    assert "no contact named 'Mathi'" in close and "Mathieu Lefèvre" in close
    assert "no name given" in error(tools["get_email_address"], name=" ")


def test_vcard_parsing_handles_folding_escapes_and_pref() -> None:
    text = (
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ana\r\n  Lima\r\nNICKNAME:Nana\\, the great,Ani\r\n"
        "EMAIL:ana@work.example\r\nEMAIL;PREF=1:ana@home.example\r\nEND:VCARD\r\n"
    )
    (card,) = parse_vcards(text)
    assert card.name == "Ana Lima"
    assert card.nicknames == ["Nana, the great", "Ani"]
    assert card.emails == ["ana@home.example", "ana@work.example"]
