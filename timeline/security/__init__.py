"""Keeping the site safe: the admin site and login, client addresses, rate limits, headers, logs."""
