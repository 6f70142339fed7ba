"""SSRF guard: webhook targets must be public addresses unless the operator allows private ones.

The check runs twice: when an endpoint is registered (a friendly 422), and on the socket
itself at send time, against the address actually connected to, so that a name which
resolves to a public address at registration and to 127.0.0.1 later (DNS rebinding)
is still refused.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

SCHEMES = ("http", "https")


class TargetRefused(ValueError):
    """The URL is not an acceptable webhook target; ``code`` is stable for API clients."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def is_public(address: str) -> bool:
    """Whether ``address`` is a globally routable unicast IP."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to; empty when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


def check_url(url: str, allow_private: bool = False) -> None:
    """Raise TargetRefused unless ``url`` is http(s) with a host that resolves to public IPs.

    A name that does not resolve (yet) is accepted: the send-time guard still applies.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("url_invalid", "not a valid URL") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise TargetRefused("url_invalid", "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise TargetRefused("url_invalid", "must not contain credentials")
    if allow_private:
        return
    for address in resolve(parts.hostname, port):
        if not is_public(address):
            raise TargetRefused(
                "url_not_allowed", "the host resolves to a private, loopback or reserved address"
            )


def _check_peer(sock: socket.socket) -> None:
    peer = sock.getpeername()[0]
    if not is_public(peer):
        sock.close()
        raise requests.ConnectionError(f"refused to send to non-public address {peer}")


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def http_session(allow_private: bool = False) -> requests.Session:
    """A requests session that ignores proxy settings and, unless allowed, private peers."""
    session = requests.Session()
    # a proxy from the environment would hide the real peer from the guard
    session.trust_env = False
    if not allow_private:
        session.mount("http://", _GuardedAdapter())
        session.mount("https://", _GuardedAdapter())
    return session
