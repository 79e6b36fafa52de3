"""Checks of the security settings: a value that is empty or malformed stops start-up.

A security setting that is set but unusable must never quietly mean "off": an empty
``KGTWIN_OIDC_JWKS_URL`` once counted as configured for the exposure check yet switched
OIDC off in the API, so a twin served anonymously off loopback. Every check here raises
``ValueError`` with what is wrong; ``kgtwin.settings`` turns it into one start-up line
naming the setting.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# RFC 6454 §7.1: an origin as a browser sends it is scheme "://" host [":" port], nothing more.
_ORIGIN_SCHEMES = ("http", "https")

_CLAIM_SEGMENT = re.compile(r"[^.\s]+")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def non_blank(value: str) -> str:
    """``value`` itself, refused when empty or padded with white space (a copy-paste slip)."""
    if not value.strip():
        raise ValueError("is empty; leave the setting out to switch it off")
    if value != value.strip():
        raise ValueError(f"{value!r} has leading or trailing white space")
    return value


def jwks_url(value: str) -> str:
    """An absolute ``https`` URL of a JWKS (``http`` only to a loopback host, for a local provider).

    The JWKS decides which signatures are trusted: fetched over plain HTTP across a
    network, anyone on the path could hand kgtwin their own keys.
    """
    non_blank(value)
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{value!r} must use https (plain http only to a loopback identity provider)")
    return value


def claim_path(value: str) -> str:
    """A dotted path of claim names such as ``roles`` or ``realm_access.roles``."""
    non_blank(value)
    if not all(_CLAIM_SEGMENT.fullmatch(part) for part in value.split(".")):
        raise ValueError(f"{value!r} is not a dotted path of claim names (such as realm_access.roles)")
    return value


def origin(value: str) -> str:
    """A browser origin, ``scheme://host[:port]`` (no path, no trailing slash, no wildcard).

    Browsers compare the ``Origin`` header with the allowed value byte for byte, so a
    trailing slash or a path would match nothing; ``*`` cannot go with credentials.
    """
    non_blank(value)
    if "*" in value:
        raise ValueError(f"{value!r}: wildcards are refused; list each origin (credentials are allowed)")
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    if parts.scheme not in _ORIGIN_SCHEMES or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin such as https://app.example.com")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r} is not an origin: scheme://host[:port] only, no path or trailing slash")
    if value != value.lower():
        raise ValueError(f"{value!r}: write origins in lower case, as browsers send them")
    default = {"http": 80, "https": 443}[parts.scheme]
    if port == default:
        raise ValueError(f"{value!r}: leave out the default port {default}; browsers do")
    return value
