"""The stored form of a secret token (private feed links, subscriber links)."""

import hashlib

# Longer than any token we issue; longer input is cut before hashing so work stays the same.
MAX_TOKEN_LENGTH = 64


def hash_token(token: str) -> str:
    """Return the stored form of a token: its SHA-256, in hex.

    Tokens carry 256 random bits, so a fast unsalted hash suffices: only the hash is stored.
    """
    return hashlib.sha256(token[:MAX_TOKEN_LENGTH].encode("utf-8", "replace")).hexdigest()
