"""Real Pigeonhole (dovecot-sieve) vacation replies, saved as sieve_vacation_LANG.eml.

Starts the test suite's own Dovecot + SMTP relay (tests/servers.py), sets a vacation script
per prospect, sends each a touch as our rep, and saves the responder's answer as the rep's
mailbox received it.

    PYTHONPATH=. python tests/classify/samples/make/vacation.py
"""

from __future__ import annotations

import tempfile
from email.message import EmailMessage
from pathlib import Path

from tests.servers import mail_servers

SAMPLES = Path(__file__).resolve().parent.parent
TEXTS = {
    "en": ("Out of office", "I am out of the office until 16 March with no access to email."),
    "de": ("Abwesenheitsnotiz", "Ich bin bis zum 16. März im Urlaub und lese keine E-Mails."),
    "fr": ("Absent", "Je suis absent jusqu'au 16 mars. En cas d'urgence, contactez Paul."),
    "ja": ("不在のお知らせ", "3月16日まで休暇のため不在にしております。"),
}


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        Path(root).chmod(0o755)  # Dovecot's unprivileged processes must reach the mail store
        _make(Path(root))


def _make(root: Path) -> None:
    with mail_servers(root) as mail:
        rep = mail.new_address("rep")
        for language, (subject, text) in TEXTS.items():
            prospect = mail.new_address(f"prospect{language}")
            mail.dovecot.set_vacation(prospect, text, subject=subject)
            touch = EmailMessage()
            touch["From"] = f"Sam Rep <{rep}>"
            touch["To"] = prospect
            touch["Subject"] = "Quick question about your process"
            touch["Message-ID"] = f"<touch.sieve.{language}@rep.example>"
            touch.set_content("Hi, would a 15-minute call next week make sense?\n\nSam\n")
            mail.send(touch, rep, [prospect])
        replies = mail.wait_for(rep, len(TEXTS), timeout=30)
        for reply in replies:
            language = str(reply["In-Reply-To"]).split(".")[2].split("@")[0]
            (SAMPLES / f"sieve_vacation_{language}.eml").write_bytes(reply.as_bytes())
            print(f"saved sieve_vacation_{language}.eml: {reply['Subject']}")


if __name__ == "__main__":
    main()
