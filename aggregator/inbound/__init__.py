"""Mail in: the inbound SMTP listener and the newsletters it turns into items."""
