"""The demo's email backend: Django's console backend, printing what a reader sees rather than the MIME source.

The raw message wraps long lines in quoted-printable ("=" at each soft break), which breaks the reminder's link
in a terminal; this prints the recipients, the subject and the plain-text body as written, so the link is one
line a terminal makes clickable. The HTML part is the same text with a button; a real site sends both.
"""

from __future__ import annotations

from typing import Any

from django.core.mail.backends import console


class EmailBackend(console.EmailBackend):
    def write_message(self, message: Any) -> None:
        self.stream.write(f"\n==> email to {', '.join(message.to)}: {message.subject}\n\n{message.body}\n")
        self.stream.write("-" * 79 + "\n")
