"""The packaged seed data: a small, realistic desktop (contacts, inbox, PDFs, notes) for demos and evals."""

from __future__ import annotations

import email
import email.policy
import mailbox
import shutil
from importlib import resources
from pathlib import Path

from tinycrew.tools.desktop.sandbox import Sandbox

SEED = resources.files("tinycrew.tools.desktop") / "seed"


def seed_sandbox(root: str | Path) -> Path:
    """Copy the seed data into ``root`` and return the resolved root.

    Contacts, Documents (real PDFs) and Notes are copied as files; the ``.eml`` messages become a real
    Maildir at ``Mail/Inbox``. Existing files of the same name are overwritten, others are kept.
    """
    sandbox = Sandbox(root)
    with resources.as_file(SEED) as seed:
        for source in sorted(Path(seed).rglob("*")):
            relative = source.relative_to(seed)
            if source.is_dir() or relative.parts[0] == "Mail":
                continue
            target = sandbox.path(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        inbox = sandbox.maildir("Mail/Inbox")
        known = {str(m["Message-ID"]) for m in inbox}
        for message_file in sorted((Path(seed) / "Mail" / "Inbox").glob("*.eml")):
            message = email.message_from_bytes(message_file.read_bytes(), policy=email.policy.default)
            if str(message["Message-ID"]) not in known:
                inbox.add(mailbox.MaildirMessage(message))
    sandbox.maildir("Mail/Outbox")
    return sandbox.root
