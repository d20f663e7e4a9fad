"""The 16 desktop tools of issue #25 as closures over one sandbox.

Each tool does the real thing on real files (vCard, iCalendar, Maildir, Markdown, JSON lines) inside the
sandbox root, and nothing leaves the machine: e-mail goes to a Maildir outbox, SMS to a log. The
docstrings are what the small model reads, so they are short and carry an example value each.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import mimetypes
import os
import shutil
import subprocess
import threading
import uuid
import webbrowser
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote_plus, urlencode, urlparse

import icalendar
import pypdf

from tinycrew.tools.core import Tool
from tinycrew.tools.decorator import tool
from tinycrew.tools.desktop.contacts import ContactBook, parse_vcards
from tinycrew.tools.desktop.dates import resolve_end, resolve_when
from tinycrew.tools.desktop.sandbox import Sandbox, fold
from tinycrew.tools.errors import ToolError

DESKTOP_TOOL_NAMES: tuple[str, ...] = (
    "get_phone_number",
    "get_email_address",
    "create_calendar_event",
    "open_and_get_file_path",
    "summarize_pdf",
    "compose_new_email",
    "reply_to_email",
    "forward_email",
    "maps_open_location",
    "maps_show_directions",
    "create_note",
    "open_note",
    "append_note_content",
    "create_reminder",
    "send_sms",
    "get_zoom_meeting_link",
)
SIDE_EFFECT_TOOLS: frozenset[str] = frozenset(
    {
        "create_calendar_event",
        "compose_new_email",
        "reply_to_email",
        "forward_email",
        "create_note",
        "append_note_content",
        "create_reminder",
        "send_sms",
    }
)
OPENER_TOOLS: frozenset[str] = frozenset(
    {"open_and_get_file_path", "maps_open_location", "maps_show_directions"}
)
"""Tools that open a file or a browser when ``open_files=True``: then they are side-effecting too."""

DEFAULT_MEETING_URL = "https://zoom.us/j/0000000000"
PDF_EXCERPT_CHARS = 1500
SUMMARY_INPUT_CHARS = 12000
_OSM = "https://www.openstreetmap.org"
_TRANSPORT = {
    "d": ("fossgis_osrm_car", "driving"),
    "w": ("fossgis_osrm_foot", "walking"),
    "r": ("fossgis_osrm_foot", "walking (OpenStreetMap has no public transport routing)"),
}
_TRANSPORT_WORDS = {
    "d": "d", "drive": "d", "driving": "d", "car": "d",
    "w": "w", "walk": "w", "walking": "w", "foot": "w",
    "r": "r", "transit": "r", "public transport": "r", "train": "r", "bus": "r",
}  # fmt: skip


class DesktopSandbox(Sandbox):
    """The sandbox plus what the tools share: the clock, contacts, the owner's address, the openers."""

    def __init__(
        self,
        root: str | Path,
        *,
        now: datetime | None = None,
        summarize: Callable[[str], str] | None = None,
        meeting_url: str = DEFAULT_MEETING_URL,
        open_files: bool = False,
    ) -> None:
        super().__init__(root)
        self._now = now
        self.summarize = summarize
        self.meeting_url = meeting_url
        self.open_files = open_files
        self.lock = threading.Lock()
        """Serializes read-modify-write of shared files: a DAG runs several tools at once."""

    def now(self) -> datetime:
        """The fixed clock the toolset was given, else the wall clock (a long-running UI stays current)."""
        return self._now if self._now is not None else datetime.now()

    def when(self, text: str, what: str) -> datetime:
        """``resolve_when`` with the tool's own error message."""
        try:
            return resolve_when(text, self.now())
        except ValueError as exc:
            raise ToolError(f"{what}: {exc}") from None

    def contacts(self) -> ContactBook:
        """The contact book, read fresh so that edits to the vCard file show at once."""
        return ContactBook.load(self.path("Contacts/contacts.vcf"))

    def owner(self) -> str:
        """The sandbox owner's address for From: (Contacts/me.vcf), else a local placeholder."""
        me = self.path("Contacts/me.vcf")
        cards = parse_vcards(me.read_text(encoding="utf-8")) if me.is_file() else []
        if cards and cards[0].emails:
            return f"{cards[0].name} <{cards[0].emails[0]}>"
        return "me@localhost"

    def open(self, target: str) -> bool:
        """Open a file or URL on the desktop when enabled and an opener exists; True if it did."""
        if not self.open_files:
            return False
        if target.startswith("https://"):
            return webbrowser.open(target)
        opener = shutil.which("xdg-open") or shutil.which("open")
        if opener is None or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return False
        subprocess.Popen([opener, target], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return True

    def resolve_file(self, name: str) -> Path:
        """A file the user names (a path or a bare name) under the root; never a fuzzy guess."""
        try:
            return self.find(name, fuzzy=False)
        except FileNotFoundError as exc:
            raise ToolError(str(exc)) from None


def _fmt(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.strftime("%a %Y-%m-%d %H:%M")
    return value.strftime("%a %Y-%m-%d")


def _resolve_all(people: list[str], resolve: Callable[[str], str], what: str) -> list[str]:
    resolved, problems = [], []
    for person in people:
        if not person.strip():
            continue
        try:
            resolved.append(resolve(person))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ToolError(f"{what}: " + "; ".join(problems))
    return resolved


def _write_ics(path: Path, component: icalendar.Component, calendar_name: str, lock: threading.Lock) -> None:
    with lock:
        _add_to_ics(path, component, calendar_name)


def _add_to_ics(path: Path, component: icalendar.Component, calendar_name: str) -> None:
    if path.is_file():
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
    else:
        calendar = icalendar.Calendar()
        calendar.add("prodid", "-//tinycrew//desktop tools//EN")
        calendar.add("version", "2.0")
        calendar.add("x-wr-calname", calendar_name)
    calendar.add_component(component)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(calendar.to_ical())
    temporary.replace(path)


def desktop_tools(
    root: str | Path,
    *,
    now: datetime | None = None,
    summarize: Callable[[str], str] | None = None,
    approval: bool = True,
    meeting_url: str = DEFAULT_MEETING_URL,
    open_files: bool = False,
) -> list[Tool]:
    """The 16 desktop tools, in ``DESKTOP_TOOL_NAMES`` order, working inside the sandbox ``root``.

    ``now`` fixes the clock that relative dates count from (reproducible runs); ``summarize`` is the
    summarizer role for ``summarize_pdf``; ``approval`` marks the side-effecting tools so the graphs ask
    before running them; ``open_files`` lets the file and map tools open things on the desktop.
    """
    parsed = urlparse(meeting_url)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise ValueError(f"meeting_url must be an http(s) URL, got {meeting_url!r}")
    box = DesktopSandbox(root, now=now, summarize=summarize, meeting_url=meeting_url, open_files=open_files)

    def mark(name: str) -> bool:
        return approval and (name in SIDE_EFFECT_TOOLS or (open_files and name in OPENER_TOOLS))

    # ---- contacts -------------------------------------------------------------------------------------

    @tool(side_effect=mark("get_phone_number"))
    def get_phone_number(name: str) -> str:
        """Get a contact's phone number.

        Args:
            name: The contact's name or nickname, e.g. "Odile Ménard" or "Odile".
        """
        try:
            return box.contacts().phone_of(name)
        except ValueError as exc:
            raise ToolError(str(exc)) from None

    @tool(side_effect=mark("get_email_address"))
    def get_email_address(name: str) -> str:
        """Get a contact's e-mail address.

        Args:
            name: The contact's name or nickname, e.g. "Kofi Mensah" or "Kofi".
        """
        try:
            return box.contacts().email_of(name)
        except ValueError as exc:
            raise ToolError(str(exc)) from None

    # ---- calendar and reminders -----------------------------------------------------------------------

    @tool(side_effect=mark("create_calendar_event"))
    def create_calendar_event(
        title: str,
        start_date: str,
        end_date: str,
        location: str = "",
        invitees: list[str] = [],  # noqa: B006 - the issue's signature; never mutated
        notes: str = "",
        calendar: str = "",
    ) -> str:
        """Create a calendar event.

        Args:
            title: Event title, e.g. "Hedgehog survey walk".
            start_date: Start, in the user's own words (the day and the time the request says).
            end_date: End, in the user's own words (the end time, or the length the request says).
            location: Where, only if the user says where; else empty.
            invitees: E-mail addresses of the people the user invites (get_email_address gives a
                contact's); else empty.
            notes: Extra text for the event, only if the user gives some; else empty.
            calendar: A calendar the user names; empty for the default calendar.
        """
        if not title.strip():
            raise ToolError("title is empty; give the event a title such as 'Team sync'")
        start = box.when(start_date, "start_date")
        if not end_date.strip():
            raise ToolError("end_date is missing; give an end such as '2026-12-04T11:00' or '1 hour'")
        try:
            end = resolve_end(end_date, start, box.now())
        except ValueError as exc:
            raise ToolError(f"end_date: {exc}") from None
        if end <= start:
            raise ToolError(f"end_date {_fmt(end)} is not after start_date {_fmt(start)}")
        contacts = box.contacts()
        attendees = _resolve_all(invitees, contacts.mailbox_of, "invitees")
        calendar_name = box.name(calendar or "Calendar", "calendar")
        event = icalendar.Event()
        event.add("uid", f"{uuid.uuid4()}@tinycrew")
        event.add("dtstamp", box.now().astimezone(UTC))
        event.add("summary", title.strip())
        event.add("dtstart", start)
        event.add("dtend", end)
        if location.strip():
            event.add("location", location.strip())
        if notes.strip():
            event.add("description", notes.strip())
        for attendee in attendees:
            address = attendee.rsplit("<", 1)[-1].rstrip(">")
            cn = attendee.rsplit("<", 1)[0].strip() or address
            event.add("attendee", f"mailto:{address}", parameters={"CN": cn, "ROLE": "REQ-PARTICIPANT"})
        path = box.path(f"Calendar/{calendar_name}.ics")
        _write_ics(path, event, calendar_name, box.lock)
        who = f" with {', '.join(attendees)}" if attendees else ""
        return (
            f"created event '{title.strip()}' {_fmt(start)} to {_fmt(end)}{who} "
            f"in calendar '{calendar_name}' ({box.relative(path)})"
        )

    @tool(side_effect=mark("create_reminder"))
    def create_reminder(
        name: str,
        due_date: str = "",
        notes: str = "",
        list_name: str = "",
        priority: int = 0,
        all_day: bool = False,
    ) -> str:
        """Create a reminder (a to-do).

        Args:
            name: What to do, e.g. "Send the survey to Odile".
            due_date: When, in the user's own words (the day and time the request says); else empty.
            notes: Extra text, only if the user gives some; else empty.
            list_name: A reminder list the user names; empty for the default list.
            priority: 0 unless the user says how important: 1 high, 5 medium, 9 low.
            all_day: True only for a whole-day reminder that has no time of day.
        """
        if not name.strip():
            raise ToolError("name is empty; say what to be reminded of")
        if not 0 <= priority <= 9:
            raise ToolError(f"priority must be 0 (none) to 9 (low), 1 is high; got {priority}")
        list_title = box.name(list_name or "Reminders", "list_name")
        todo = icalendar.Todo()
        todo.add("uid", f"{uuid.uuid4()}@tinycrew")
        todo.add("dtstamp", box.now().astimezone(UTC))
        todo.add("summary", name.strip())
        todo.add("status", "NEEDS-ACTION")
        due_text = "no due date"
        if due_date.strip():
            due: datetime | date = box.when(due_date, "due_date")
            if all_day:
                due = due.date()
            todo.add("due", due)
            due_text = f"due {_fmt(due)}"
        if priority:
            todo.add("priority", priority)
        if notes.strip():
            todo.add("description", notes.strip())
        path = box.path(f"Reminders/{list_title}.ics")
        _write_ics(path, todo, list_title, box.lock)
        return f"created reminder '{name.strip()}', {due_text}, in list '{list_title}' ({box.relative(path)})"

    # ---- files ----------------------------------------------------------------------------------------

    @tool(side_effect=mark("open_and_get_file_path"))
    def open_and_get_file_path(file_name: str) -> str:
        """Find a file by name and return its path.

        Args:
            file_name: The file's name, e.g. "hedgehog_survey.pdf" or "hedgehog survey".
        """
        try:
            path = box.find(file_name)
        except (FileNotFoundError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        box.open(str(path))
        return str(path)

    @tool(side_effect=mark("summarize_pdf"), timeout=180)
    def summarize_pdf(pdf_path: str) -> str:
        """Summarize a PDF file.

        Args:
            pdf_path: The PDF's path (open_and_get_file_path finds a file by name).
        """
        path = box.resolve_file(pdf_path)
        try:
            reader = pypdf.PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise ToolError(f"{box.relative(path)} is password-protected")
            text = "\n".join((page.extract_text() or "") for page in reader.pages).strip()
        except pypdf.errors.PdfReadError as exc:
            raise ToolError(f"{box.relative(path)} is not a readable PDF: {exc}") from None
        if not text:
            raise ToolError(f"{box.relative(path)} has no extractable text (a scanned PDF?)")
        if box.summarize is not None:
            return box.summarize(text[:SUMMARY_INPUT_CHARS])
        excerpt = text[:PDF_EXCERPT_CHARS] + (" [...]" if len(text) > PDF_EXCERPT_CHARS else "")
        return f"[no summarizer configured; the first part of {box.relative(path)} follows]\n{excerpt}"

    # ---- e-mail ---------------------------------------------------------------------------------------

    def newest_inbox_message() -> EmailMessage:
        folder = box.path("Mail/Inbox")
        inbox = mailbox.Maildir(folder, create=False) if folder.is_dir() else None
        messages = []
        for key in inbox.keys() if inbox is not None else []:
            message = email.message_from_bytes(inbox.get_bytes(key), policy=email.policy.default)
            try:
                when = parsedate_to_datetime(str(message["Date"])).timestamp()
            except (TypeError, ValueError):
                when = 0.0
            messages.append((when, key, message))
        if not messages:
            raise ToolError("the inbox (Mail/Inbox) is empty: there is no current email")
        return max(messages, key=lambda item: (item[0], item[1]))[2]

    def attach(message: EmailMessage, attachments: list[str]) -> list[str]:
        names = []
        for item in attachments:
            if not item.strip():
                continue
            path = box.resolve_file(item)
            kind, _ = mimetypes.guess_type(path.name)
            maintype, subtype = (kind or "application/octet-stream").split("/", 1)
            message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
            names.append(path.name)
        return names

    def save(message: EmailMessage, attachments: list[str]) -> str:
        message["From"] = box.owner()
        message["Date"] = format_datetime(box.now().astimezone())
        message["Message-ID"] = make_msgid(domain="tinycrew.local")
        attached = attach(message, attachments)
        outbox = box.maildir("Mail/Outbox")
        key = outbox.add(message)
        extra = f", attached {', '.join(attached)}" if attached else ""
        return (
            f"saved email '{message['Subject']}' to {message['To']}{extra} "
            f"in Mail/Outbox/new/{key} (not sent)"
        )

    def people(recipients: list[str], what: str) -> list[str]:
        return _resolve_all(recipients, box.contacts().mailbox_of, what)

    @tool(side_effect=mark("compose_new_email"))
    def compose_new_email(
        recipients: list[str],
        subject: str,
        context: str = "",
        attachments: list[str] = [],  # noqa: B006 - the issue's signature; never mutated
        cc: list[str] = [],  # noqa: B006
    ) -> str:
        """Write a new e-mail (saved to the outbox, not sent).

        Args:
            recipients: E-mail addresses (get_email_address gives a contact's).
            subject: Subject line, e.g. "Hedgehog survey".
            context: The message text.
            attachments: Paths of the files the user asks to send (open_and_get_file_path finds a
                file); else empty.
            cc: E-mail addresses of the people the user asks to copy; else empty.
        """
        to = people(recipients, "recipients")
        if not to:
            raise ToolError("recipients is empty; give at least one name or address")
        message = EmailMessage()
        message["To"] = ", ".join(to)
        if cc:
            copied = people(cc, "cc")
            if copied:
                message["Cc"] = ", ".join(copied)
        message["Subject"] = subject.strip()
        message.set_content(context or "")
        return save(message, attachments)

    @tool(side_effect=mark("reply_to_email"))
    def reply_to_email(
        context: str = "",
        attachments: list[str] = [],  # noqa: B006 - the issue's signature; never mutated
        cc: list[str] = [],  # noqa: B006
    ) -> str:
        """Reply to the current (newest) e-mail in the inbox.

        Args:
            context: The reply text.
            attachments: Paths of the files the user asks to send (open_and_get_file_path finds a
                file); else empty.
            cc: E-mail addresses of the people the user asks to copy; else empty.
        """
        original = newest_inbox_message()
        message = EmailMessage()
        message["To"] = str(original["Reply-To"] or original["From"])
        if cc:
            copied = people(cc, "cc")
            if copied:
                message["Cc"] = ", ".join(copied)
        subject = str(original["Subject"] or "")
        message["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        if original["Message-ID"]:
            message["In-Reply-To"] = str(original["Message-ID"])
            references = f"{original['References'] or ''} {original['Message-ID']}".strip()
            message["References"] = references
        body = original.get_body(preferencelist=("plain",))
        quoted = "\n".join(f"> {line}" for line in (body.get_content() if body else "").strip().splitlines())
        message.set_content(f"{context}\n\nOn {original['Date']}, {original['From']} wrote:\n{quoted}\n")
        return save(message, attachments)

    @tool(side_effect=mark("forward_email"))
    def forward_email(
        recipients: list[str],
        context: str = "",
        attachments: list[str] = [],  # noqa: B006 - the issue's signature; never mutated
        cc: list[str] = [],  # noqa: B006
    ) -> str:
        """Forward the current (newest) e-mail in the inbox.

        Args:
            recipients: E-mail addresses (get_email_address gives a contact's).
            context: Text above the forwarded message.
            attachments: Paths of more files the user asks to send (open_and_get_file_path finds a
                file); else empty.
            cc: E-mail addresses of the people the user asks to copy; else empty.
        """
        to = people(recipients, "recipients")
        if not to:
            raise ToolError("recipients is empty; give at least one name or address")
        original = newest_inbox_message()
        message = EmailMessage()
        message["To"] = ", ".join(to)
        if cc:
            copied = people(cc, "cc")
            if copied:
                message["Cc"] = ", ".join(copied)
        subject = str(original["Subject"] or "")
        message["Subject"] = subject if subject.lower().startswith("fwd:") else f"Fwd: {subject}"
        body = original.get_body(preferencelist=("plain",))
        header = "\n".join(f"{h}: {original[h]}" for h in ("From", "Date", "Subject", "To") if original[h])
        message.set_content(
            f"{context}\n\n---------- Forwarded message ----------\n{header}\n\n"
            f"{body.get_content() if body else ''}"
        )
        for part in original.iter_attachments():  # a forward carries the original's attachments
            data = part.get_payload(decode=True) or b""
            message.add_attachment(
                data,
                maintype=part.get_content_maintype(),
                subtype=part.get_content_subtype(),
                filename=part.get_filename(),
            )
        return save(message, attachments)

    # ---- maps -----------------------------------------------------------------------------------------

    @tool(side_effect=mark("maps_open_location"))
    def maps_open_location(location: str) -> str:
        """Show a place on the map; returns its OpenStreetMap link.

        Args:
            location: A place or address, e.g. "Lisbon Santa Apolónia station".
        """
        if not location.strip():
            raise ToolError("location is empty; give a place such as 'Mill Lane, Oxford'")
        url = f"{_OSM}/search?query={quote_plus(location.strip())}"
        box.open(url)
        return url

    @tool(side_effect=mark("maps_show_directions"))
    def maps_show_directions(start_location: str = "", end_location: str = "", transport: str = "d") -> str:
        """Show directions between two places; returns the OpenStreetMap link.

        Args:
            start_location: Where from, only if the user says; empty for the current location.
            end_location: Where to, e.g. "British Museum".
            transport: "d" driving, "w" walking, "r" public transport.
        """
        mode = _TRANSPORT_WORDS.get(transport.strip().lower())
        if mode is None:
            raise ToolError(
                f"transport must be 'd' (driving), 'w' (walking) or 'r' (transit), got {transport!r}"
            )
        if not end_location.strip():
            raise ToolError("end_location is empty; say where to go")
        engine, _ = _TRANSPORT[mode]
        query = {"engine": engine}
        if start_location.strip():
            query["from"] = start_location.strip()
        query["to"] = end_location.strip()
        url = f"{_OSM}/directions?{urlencode(query)}"
        box.open(url)
        return url

    # ---- notes ----------------------------------------------------------------------------------------

    def note_path(name: str, folder: str) -> Path:
        stem = box.name(name.strip().removesuffix(".md"), "note name")
        return box.path(f"Notes/{box.name(folder or 'Notes', 'folder')}/{stem}.md")

    def existing_note(name: str, folder: str) -> Path:
        path = note_path(name, folder)
        if path.is_file():
            return path
        folder_path = path.parent
        notes = sorted(folder_path.glob("*.md")) if folder_path.is_dir() else []
        same = [p for p in notes if fold(p.stem) == fold(path.stem)]
        if len(same) == 1:
            return same[0]
        listed = ", ".join(p.stem for p in notes) or "none"
        raise ToolError(f"no note {path.stem!r} in folder {folder_path.name!r}; notes there: {listed}")

    @tool(side_effect=mark("create_note"))
    def create_note(name: str, content: str, folder: str = "Notes") -> str:
        """Create a new note.

        Args:
            name: Note title, e.g. "Shopping list".
            content: The note's text, e.g. "- oat milk".
            folder: "Notes" unless the user names another notes folder.
        """
        path = note_path(name, folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with box.lock, path.open("x", encoding="utf-8") as handle:  # "x": never overwrite a note
                handle.write(content if content.endswith("\n") else content + "\n")
        except FileExistsError:
            raise ToolError(
                f"a note {path.stem!r} already exists in {path.parent.name!r}; use append_note_content"
            ) from None
        return f"created note '{path.stem}' in folder '{path.parent.name}' ({box.relative(path)})"

    @tool(side_effect=mark("open_note"))
    def open_note(name: str, folder: str = "Notes") -> str:
        """Read a note.

        Args:
            name: Note title, e.g. "Shopping list".
            folder: "Notes" unless the user names another notes folder.
        """
        return existing_note(name, folder).read_text(encoding="utf-8")

    @tool(side_effect=mark("append_note_content"))
    def append_note_content(name: str, content: str, folder: str = "Notes") -> str:
        """Add text to the end of an existing note.

        Args:
            name: Note title, e.g. "Shopping list".
            content: Text to add, e.g. "- oat milk".
            folder: "Notes" unless the user names another notes folder.
        """
        path = existing_note(name, folder)
        current = path.read_text(encoding="utf-8")
        separator = "" if not current or current.endswith("\n") else "\n"
        with box.lock, path.open("a", encoding="utf-8") as handle:
            handle.write(separator + content + ("" if content.endswith("\n") else "\n"))
        return f"appended to note '{path.stem}' in folder '{path.parent.name}' ({box.relative(path)})"

    # ---- messages and meetings ------------------------------------------------------------------------

    @tool(side_effect=mark("send_sms"))
    def send_sms(recipients: list[str], message: str) -> str:
        """Send a text message (logged to the outbox, not really sent).

        Args:
            recipients: Phone numbers (get_phone_number gives a contact's).
            message: The text, e.g. "Running 10 minutes late".
        """
        if not message.strip():
            raise ToolError("message is empty")
        named = [r.strip() for r in recipients if r.strip()]
        numbers = _resolve_all(named, box.contacts().phone_of, "recipients")
        if not numbers:
            raise ToolError("recipients is empty; give at least one name or phone number")
        entry = {
            "time": box.now().isoformat(timespec="seconds"),
            "to": [{"recipient": r, "phone": n} for r, n in zip(named, numbers, strict=True)],
            "message": message,
        }
        path = box.path("Messages/outbox.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with box.lock, path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return f"SMS to {', '.join(numbers)} logged in {box.relative(path)} (not sent)"

    @tool(side_effect=mark("get_zoom_meeting_link"))
    def get_zoom_meeting_link(topic: str, start_time: str, duration: int, meeting_invitees: list[str]) -> str:
        """Get the video meeting link for a meeting.

        Args:
            topic: Meeting topic, e.g. "Budget review".
            start_time: When, in the user's own words (the day and the time the request says).
            duration: Length in minutes.
            meeting_invitees: E-mail addresses of the people the user invites (get_email_address
                gives a contact's).
        """
        box.when(start_time, "start_time")
        if duration <= 0:
            raise ToolError(f"duration must be a positive number of minutes, e.g. 30; got {duration}")
        return box.meeting_url

    tools = [
        get_phone_number,
        get_email_address,
        create_calendar_event,
        open_and_get_file_path,
        summarize_pdf,
        compose_new_email,
        reply_to_email,
        forward_email,
        maps_open_location,
        maps_show_directions,
        create_note,
        open_note,
        append_note_content,
        create_reminder,
        send_sms,
        get_zoom_meeting_link,
    ]
    assert tuple(t.name for t in tools) == DESKTOP_TOOL_NAMES
    return tools
