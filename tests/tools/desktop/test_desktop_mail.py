"""compose_new_email, reply_to_email, forward_email: real RFC 5322 messages in a Maildir outbox."""

from __future__ import annotations

import email.policy
import mailbox
from email.message import EmailMessage
from pathlib import Path

from tinycrew.tools import Tool

from .conftest import error, ok


def outbox(root: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(root / "Mail" / "Outbox", create=False)
    return [
        email.message_from_bytes(box.get_bytes(key), policy=email.policy.default) for key in box.iterkeys()
    ]


def test_compose_with_attachment_and_cc(tools: dict[str, Tool], root: Path) -> None:
    text = ok(
        tools["compose_new_email"],
        recipients=["Odile"],
        subject="Hedgehog survey",
        context="Here are last season's results.",
        attachments=["hedgehog_survey.pdf"],
        cc=["Betty", "ananya.rao@example.in"],
    )
    assert "(not sent)" in text and "attached hedgehog_survey.pdf" in text
    (message,) = outbox(root)
    assert message["To"] == "Odile Ménard <odile.menard@herisson-conservation.org>"
    # a known address gets its contact name
    assert message["Cc"] == "Bettina Kowalczyk <bettina.k@example.de>, Ananya Rao <ananya.rao@example.in>"
    assert message["From"] == "Sam Whitfield <sam.whitfield@example.org>"
    assert message["Subject"] == "Hedgehog survey" and message["Message-ID"]
    assert message.get_body(("plain",)).get_content().strip() == "Here are last season's results."
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "hedgehog_survey.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == (root / "Documents" / "hedgehog_survey.pdf").read_bytes()


def test_unknown_recipient_or_attachment_writes_nothing(tools: dict[str, Tool], root: Path) -> None:
    compose = tools["compose_new_email"]
    assert "recipients: no contact named 'Bob'" in error(compose, recipients=["Odile", "Bob"], subject="x")
    assert "no file named 'missing.pdf'" in error(
        compose, recipients=["Odile"], subject="x", attachments=["missing.pdf"]
    )
    assert "SandboxError" in error(compose, recipients=["Odile"], subject="x", attachments=["/etc/passwd"])
    assert "recipients is empty" in error(compose, recipients=[], subject="x")
    assert outbox(root) == []


def test_reply_goes_to_the_newest_inbox_message(tools: dict[str, Tool], root: Path) -> None:
    ok(tools["reply_to_email"], context="Saturday at 7 works for me.", cc=["Tom"])
    (reply,) = outbox(root)
    assert reply["To"] == "Bettina Kowalczyk <bettina.k@example.de>"  # 2 Dec, the newest of three
    assert reply["Subject"] == "Re: Dinner on Saturday?"
    assert reply["In-Reply-To"] == "<20261202194500.bettina@example.de>"
    assert reply["Cc"] == "Tomasz Wiśniewski <tomasz.wisniewski@example.pl>"
    body = reply.get_body(("plain",)).get_content()
    assert body.startswith("Saturday at 7 works for me.") and "> Are you free for dinner" in body


def test_forward_carries_the_message_and_attachments(tools: dict[str, Tool], root: Path) -> None:
    # make the newest inbox message one with an attachment, so the forward must carry it
    original = EmailMessage()
    original["From"], original["To"] = "Kofi Mensah <kofi.mensah@example.com.gh>", "sam.whitfield@example.org"
    original["Subject"], original["Date"] = "Budget v2", "Thu, 03 Dec 2026 08:00:00 +0000"
    original.set_content("Updated numbers attached.")
    original.add_attachment(b"line,amount\ntravel,7300\n", maintype="text", subtype="csv", filename="b.csv")
    mailbox.Maildir(root / "Mail" / "Inbox", create=False).add(original)
    ok(tools["forward_email"], recipients=["Quentin"], context="FYI", attachments=["q1_budget_draft.pdf"])
    (forward,) = outbox(root)
    assert forward["To"] == "Quentin Fournier <quentin.fournier@example.fr>"
    assert forward["Subject"] == "Fwd: Budget v2"
    body = forward.get_body(("plain",)).get_content()
    assert "---------- Forwarded message ----------" in body and "Updated numbers attached." in body
    names = [part.get_filename() for part in forward.iter_attachments()]
    assert names == ["b.csv", "q1_budget_draft.pdf"]


def test_reply_with_an_empty_inbox_is_an_error(tools: dict[str, Tool], root: Path) -> None:
    inbox = mailbox.Maildir(root / "Mail" / "Inbox", create=False)
    for key in list(inbox.keys()):
        inbox.remove(key)
    assert "there is no current email" in error(tools["reply_to_email"], context="hi")
