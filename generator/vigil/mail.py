"""One e-mail through the inventory's `routing.smtp`, read the way the e-mail notifier of the
stack's Alertmanager (0.34) reads it: smarthost port 465 is TLS from the first byte; any other
port with `require_tls` (the default) must offer STARTTLS, and the connection is upgraded before
anything else is said; AUTH with `username` and the password variable's value when the server
offers AUTH. Certificates are checked against the system's CAs (SSL_CERT_FILE names others).
As Go's smtp.PlainAuth, which Alertmanager uses, a password goes unencrypted to localhost only."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Mapping

from .inventory import Smtp

IMPLICIT_TLS_PORT = "465"
LOCALHOST = ("localhost", "127.0.0.1", "::1")


class MailError(Exception):
    pass


def send(smtp: Smtp, env: Mapping[str, str], msg: EmailMessage, timeout: float) -> None:
    """Sends `msg` to its To; MailError says what went wrong, naming the smarthost."""
    host, _, port = smtp.smarthost.rpartition(":")
    host = host.strip("[]")
    password = env.get(smtp.password, "") if smtp.password else ""
    if smtp.password and not password:
        raise MailError(f"{smtp.password} (routing.smtp.password) is not set in .env or the environment")
    context = ssl.create_default_context()
    try:
        implicit = port == IMPLICIT_TLS_PORT
        client = smtplib.SMTP_SSL(host, int(port), timeout=timeout, context=context) if implicit \
            else smtplib.SMTP(host, int(port), timeout=timeout)
        with client:
            client.ehlo()
            encrypted = implicit
            if smtp.require_tls and not implicit:
                if not client.has_extn("starttls"):
                    raise MailError(f"{smtp.smarthost}: require_tls is true (the default) but the server does "
                                    f"not offer STARTTLS (nothing sent)")
                client.starttls(context=context)
                client.ehlo()
                encrypted = True
            if smtp.username and client.has_extn("auth"):
                if not encrypted and host not in LOCALHOST:
                    raise MailError(f"{smtp.smarthost}: the password would go unencrypted (set "
                                    f"routing.smtp.require_tls: true; nothing sent)")
                client.login(smtp.username, password)
            client.send_message(msg)
    except smtplib.SMTPRecipientsRefused as e:
        raise MailError(f"{smtp.smarthost}: " + "; ".join(
            f"{to} refused: {code} {text.decode(errors='replace')}" for to, (code, text) in e.recipients.items())) \
            from None
    except smtplib.SMTPResponseException as e:
        what = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
        raise MailError(f"{smtp.smarthost}: {e.smtp_code} {what}") from None
    except (TimeoutError, smtplib.SMTPServerDisconnected) as e:
        # smtplib reports a reply that timed out as a disconnection
        late = isinstance(e, TimeoutError) or isinstance(e.__context__, TimeoutError)
        raise MailError(f"{smtp.smarthost}: " + (f"no answer within {timeout:g} s" if late else str(e))) from None
    except ssl.SSLCertVerificationError as e:
        raise MailError(f"{smtp.smarthost}: TLS: certificate verify failed: {e.verify_message} (a private CA: "
                        f"SSL_CERT_FILE)") from None
    except ssl.SSLError as e:
        raise MailError(f"{smtp.smarthost}: TLS: {e.reason or e}") from None
    except (smtplib.SMTPException, OSError) as e:
        raise MailError(f"{smtp.smarthost}: {e.strerror if isinstance(e, OSError) and e.strerror else e}") \
            from None
