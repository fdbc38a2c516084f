"""Who is asking, without keeping who they are: a keyed hash of the client address.

Rate limits, flags and spam rules need to tell clients apart; none of them needs the
address itself, so only ``client_key`` is ever stored. ``X-Forwarded-For`` is believed
only when the direct peer is one of the configured proxies, and then only as far back
as the last untrusted hop (a client can prepend anything it likes).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Sequence

__all__ = ["client_address", "client_key", "parse_proxies", "request_key"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(spec: str | Iterable[str]) -> list[Network]:
    """Trusted proxy networks from ``"127.0.0.1, 10.0.0.0/8"`` or a list of strings."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]


def _trusted(addr: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(remote_addr: str | None, forwarded_for: str | None,
                   proxies: Sequence[Network]) -> str:
    """The address of the client, believing ``X-Forwarded-For`` only from ``proxies``.

    >>> client_address("10.0.0.2", "203.0.113.9, 10.0.0.1", parse_proxies("10.0.0.0/8"))
    '203.0.113.9'
    >>> client_address("198.51.100.7", "203.0.113.9", parse_proxies("10.0.0.0/8"))
    '198.51.100.7'
    """
    addr = (remote_addr or "").strip() or "unknown"
    if not forwarded_for or not _trusted(addr, proxies):
        return addr
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    # Walk from the nearest hop back; stop at the first one we do not trust.
    for hop in reversed(hops):
        addr = hop
        if not _trusted(hop, proxies):
            break
    return addr


def client_key(address: str, secret: str | bytes) -> str:
    """A stable, non-reversible key for ``address`` (HMAC-SHA256, 32 hex characters).

    IPv6 clients are keyed by their /64, since one host can hold a whole /64.
    """
    try:
        ip = ipaddress.ip_address(address)
        if ip.version == 6:
            address = str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    except ValueError:
        pass
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def request_key(remote_addr: str | None, forwarded_for: str | None, *,
                proxies: Sequence[Network] | str, secret: str | bytes) -> str:
    """The key every HTTP edge stores for a request: :func:`client_key` of its client.

    ``proxies`` may be given parsed or as the configuration string.
    """
    nets = parse_proxies(proxies) if isinstance(proxies, str) else proxies
    return client_key(client_address(remote_addr, forwarded_for, nets), secret)
