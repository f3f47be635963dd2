"""gunicorn's settings for the image (Dockerfile CMD, docker-compose.yml): `gunicorn -c` this file.

Options given on the command line override these (the tests bind to a free local port).
"""

bind = ["0.0.0.0:8000"]
workers = 3
# Access log to stdout, error log to stderr, as the container's log collector expects.
accesslog = "-"
errorlog = "-"
# Both logs with secret link tokens redacted (timeline/security/log_redaction.py).
logger_class = "timeline.security.log_redaction.RedactingGunicornLogger"
# Whose X-Forwarded-Proto and X-Forwarded-For are believed is decided once, by Django
# (TRUSTED_PROXIES, timeline/security/client_ip.py): gunicorn takes the scheme from no header.
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = ""
