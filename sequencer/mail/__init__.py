"""Mail adapters: SMTP (aiosmtplib) and IMAP (imapclient)."""
