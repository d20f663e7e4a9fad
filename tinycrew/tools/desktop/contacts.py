"""Contacts from a vCard file and a careful name resolver: it matches or it explains, it never guesses.

An e-mail sent to the wrong Mathieu is worse than an error the model can act on, so a name that fits no
contact, or more than one, is an error that lists the close candidates.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from tinycrew.tools.desktop.sandbox import fold

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PHONE = re.compile(r"^\+?[\d\s().-]{6,}$")


@dataclass
class Contact:
    """One vCard: the full name, nicknames, phone numbers and e-mail addresses (preferred first)."""

    name: str
    nicknames: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    given: str = ""
    family: str = ""

    def match_keys(self) -> list[str]:
        """The folded forms a name may match: full name, given and family name, nicknames."""
        keys = [self.name, self.given, self.family, f"{self.given} {self.family}", *self.nicknames]
        return [k for k in dict.fromkeys(fold(k) for k in keys) if k]


def _unescape(value: str) -> str:
    return re.sub(r"\\([,;\\nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _split(value: str, sep: str) -> list[str]:
    return [_unescape(part).strip() for part in re.split(rf"(?<!\\){sep}", value)]


def parse_vcards(text: str) -> list[Contact]:
    """Contacts from vCard 3.0/4.0 text (folded lines, TYPE=pref/PREF=1 ordering, escaped commas)."""
    lines = re.sub(r"\r?\n[ \t]", "", text).splitlines()
    contacts: list[Contact] = []
    card: Contact | None = None
    preferred: dict[str, list[str]] = {}
    for line in lines:
        if ":" not in line:
            continue
        head, value = line.split(":", 1)
        prop, *params = head.split(";")
        prop = prop.split(".")[-1].upper()  # item1.EMAIL -> EMAIL
        is_pref = any("PREF" in p.upper() for p in params)
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            card, preferred = Contact(name=""), {"phones": [], "emails": []}
        elif card is None:
            continue
        elif prop == "END":
            for key in ("phones", "emails"):
                rest = [v for v in getattr(card, key) if v not in preferred[key]]
                setattr(card, key, preferred[key] + rest)
            if not card.name:
                card.name = f"{card.given} {card.family}".strip()
            if card.name:
                contacts.append(card)
            card = None
        elif prop == "FN":
            card.name = _unescape(value).strip()
        elif prop == "N":
            parts = _split(value, ";") + ["", ""]
            card.family, card.given = parts[0], parts[1]
        elif prop == "NICKNAME":
            card.nicknames += [n for n in _split(value, ",") if n]
        elif prop in ("TEL", "EMAIL"):
            key = "phones" if prop == "TEL" else "emails"
            entry = value.strip().removeprefix("tel:").removeprefix("mailto:")
            getattr(card, key).append(entry)
            if is_pref or (prop == "TEL" and any("CELL" in p.upper() for p in params)):
                preferred[key].append(entry)
    return contacts


class ContactBook:
    """The sandbox's contacts and the resolver shared by the contact, e-mail and SMS tools."""

    def __init__(self, contacts: list[Contact]) -> None:
        self.contacts = contacts

    @classmethod
    def load(cls, path: Path) -> ContactBook:
        """Read a vCard file; a missing file is an empty book."""
        if not path.is_file():
            return cls([])
        return cls(parse_vcards(path.read_text(encoding="utf-8", errors="replace")))

    def find(self, name: str) -> Contact:
        """The one contact ``name`` means: full name, first or last name, nickname, accents and case
        ignored, small typos allowed when a single contact is clearly closest; else ValueError.
        """
        query = fold(name)
        if not query:
            raise ValueError("no name given; write a contact's name such as 'Odile Ménard'")
        if not self.contacts:
            raise ValueError("the contact list is empty")
        for test in (
            lambda c: query in c.match_keys(),
            lambda c: all(token in " ".join(c.match_keys()).split() for token in query.split()),
            lambda c: any(fold(e) == query for e in c.emails),
        ):
            hits = [c for c in self.contacts if test(c)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                listed = ", ".join(c.name for c in hits[:6])
                raise ValueError(f"{name!r} matches several contacts: {listed}; use the full name")
        scored = sorted(
            (
                (max(difflib.SequenceMatcher(None, query, k).ratio() for k in c.match_keys()), c)
                for c in self.contacts
            ),
            key=lambda pair: -pair[0],
        )
        best_score, best = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        if best_score >= 0.85 and runner_up < best_score - 0.1:
            return best
        close = [c.name for score, c in scored[:3] if score >= 0.5]
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise ValueError(f"no contact named {name!r}{hint}")

    def email_of(self, name_or_address: str) -> str:
        """An address as given, or the preferred address of the contact named."""
        text = name_or_address.strip().strip("<>")
        if _ADDRESS.match(text):
            return text
        contact = self.find(text)
        if not contact.emails:
            raise ValueError(f"{contact.name} has no e-mail address")
        return contact.emails[0]

    def mailbox_of(self, name_or_address: str) -> str:
        """An RFC 5322 address ('Odile Ménard <odile@...>') for a name or a bare address."""
        text = name_or_address.strip()
        if "<" in text and text.endswith(">"):
            return text
        address = self.email_of(text)
        names = [c.name for c in self.contacts if address.casefold() in (e.casefold() for e in c.emails)]
        return f"{names[0]} <{address}>" if names else address

    def phone_of(self, name_or_number: str) -> str:
        """A number as given, or the contact's mobile (else first) number."""
        text = name_or_number.strip()
        if _PHONE.match(text) and sum(ch.isdigit() for ch in text) >= 6:
            return text
        contact = self.find(text)
        if not contact.phones:
            raise ValueError(f"{contact.name} has no phone number")
        return contact.phones[0]
