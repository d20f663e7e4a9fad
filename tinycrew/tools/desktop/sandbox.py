"""The sandbox root: every path a desktop tool reads or writes is checked to stay inside it.

A small model writes paths and names it was told by a user or copied from a file; neither may reach
outside the sandbox, whether by ``..``, an absolute path or a symlink that points elsewhere.
"""

from __future__ import annotations

import difflib
import mailbox
import os
import re
import unicodedata
from pathlib import Path


class SandboxError(ValueError):
    """A path outside the sandbox root: ``..``, an absolute path elsewhere, or a symlink escaping it."""


_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f]+")


def fold(text: str) -> str:
    """Case- and accent-free form for matching: "Odile Ménard" -> "odile menard"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("ø", "o").replace("Ø", "O").replace("ł", "l").replace("Ł", "L")
    return " ".join(re.sub(r"[^\w@.+]+", " ", plain.casefold()).replace("_", " ").split())


class Sandbox:
    """A root folder and the checks that keep paths inside it."""

    def __init__(self, root: str | Path) -> None:
        path = Path(root).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        self.root = path.resolve()

    def path(self, value: str | Path) -> Path:
        """The resolved path of ``value`` (relative to the root, or absolute inside it); else SandboxError.

        Symlinks are followed before the check, so a link inside the root that points out is refused.
        """
        text = str(value).strip()
        if not text or "\x00" in text:
            raise SandboxError(f"not a usable path: {str(value)!r}")
        candidate = Path(text).expanduser()
        if ".." in candidate.parts:
            raise SandboxError(f"'..' is not allowed in a path: {text!r}")
        if not candidate.is_absolute():
            candidate = self.root / candidate
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self.root):
            raise SandboxError(f"path {text!r} is outside the sandbox root {str(self.root)!r}")
        return resolved

    def relative(self, path: Path) -> str:
        """``path`` as shown to the model and user: relative to the root, with '/' separators."""
        return path.relative_to(self.root).as_posix()

    def name(self, value: str, what: str = "name") -> str:
        """A safe single file-name component from a user-given name (note, folder, calendar, list).

        ``..`` is refused; separators and control characters become '-' ("Work/Ideas" -> "Work-Ideas") and
        leading dots are dropped, so the result can never name a parent folder or a hidden file.
        """
        if ".." in re.split(r"[/\\]", value.strip()):
            raise SandboxError(f"{what} {value!r} may not contain '..'")
        cleaned = _UNSAFE_NAME.sub("-", value).strip().lstrip(".").strip()
        if not cleaned or cleaned.strip("-") == "":
            raise SandboxError(f"{what} {value!r} is not a usable name")
        return cleaned[:120]

    def maildir(self, folder: str) -> mailbox.Maildir:
        """A Maildir inside the root, created with its tmp/new/cur folders if missing."""
        path = self.path(folder)
        for sub in ("tmp", "new", "cur"):
            self.path(f"{folder}/{sub}").mkdir(parents=True, exist_ok=True)
        return mailbox.Maildir(path, create=False)

    def files(self, under: str | Path = ".") -> list[Path]:
        """Regular files below ``under``, skipping hidden entries and anything resolving outside the root."""
        base = self.path(under)
        found: list[Path] = []
        for folder, dirs, names in os.walk(base, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                try:
                    resolved = path.resolve()
                except OSError:
                    continue
                if resolved.is_relative_to(self.root) and resolved.is_file():
                    found.append(path)
        return found

    def find(self, file_name: str, under: str | Path = ".", *, fuzzy: bool = True) -> Path:
        """One file under the root by name: an existing path, else exact name, case-insensitive name,
        name without extension, then (if ``fuzzy``) all of the query's words, then a close spelling.
        Ambiguity is an error, never a pick.
        """
        text = file_name.strip()
        if not text:
            raise ValueError("file_name is empty; give a name such as 'hedgehog_survey.pdf'")
        if "/" in text or "\\" in text or Path(text).is_absolute():
            path = self.path(text)
            if path.is_file():
                return path
        files = self.files(under)
        base = Path(text).name
        tests = [
            lambda p: p.name == base,
            lambda p: p.name.casefold() == base.casefold(),
            lambda p: fold(p.stem) == fold(Path(base).stem) or fold(p.name) == fold(base),
        ]
        words = fold(Path(base).stem).split()
        if fuzzy and words:  # every word of the query is a word of the name: "budget" -> q1_budget_draft.pdf
            tests.append(lambda p: set(words) <= set(fold(p.stem).split()))
        for test in tests:
            hits = [p for p in files if test(p)]
            if len(hits) == 1:
                return hits[0].resolve()
            if len(hits) > 1:
                listed = ", ".join(self.relative(p) for p in hits[:6])
                raise ValueError(f"several files are called {text!r}: {listed}; give the folder too")
        stems = {}
        for p in files:
            stems.setdefault(fold(p.stem), []).append(p)
        close = difflib.get_close_matches(fold(Path(base).stem), list(stems), n=3, cutoff=0.6)
        if fuzzy and close:
            best = close[0]
            wanted = fold(Path(base).stem)
            score = difflib.SequenceMatcher(None, wanted, best).ratio()
            others = [c for c in close[1:] if difflib.SequenceMatcher(None, wanted, c).ratio() > score - 0.05]
            if score >= 0.75 and len(stems[best]) == 1 and not others:
                return stems[best][0].resolve()
        suggestions = [self.relative(p) for c in close for p in stems[c]]
        hint = f"; close matches: {', '.join(suggestions)}" if suggestions else ""
        raise FileNotFoundError(f"no file named {text!r} in the sandbox{hint}")
