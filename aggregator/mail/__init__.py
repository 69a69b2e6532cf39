"""Mail: transports (SMTP, Maildir), message building and DKIM, subscriber links, and the web
app's confirmation mailer. Digests and the web pages both stand on it; it imports neither."""
