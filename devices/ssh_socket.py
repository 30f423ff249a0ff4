"""Opening an SSH device's TCP connection and telling apart why it fails: refused, silent, closed, not SSH."""

from __future__ import annotations

import socket
import time


class Unreachable(Exception):
    """A connection attempt that ended before SSH got going: what went wrong and what to check."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def open_socket(host: str, port: int, budget_s: float) -> tuple[socket.socket, bytes]:
    """A TCP connection to the device and the first bytes it sent (left unread, for paramiko)."""
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=budget_s)
    except socket.gaierror as exc:
        raise Unreachable(
            f"has a host name that does not resolve ({exc.strerror})", hint="check the host in --ssh"
        ) from exc
    except ConnectionRefusedError as exc:
        raise Unreachable(
            "refused the connection", hint="start sshd on the device, or fix the port in --ssh"
        ) from exc
    except TimeoutError as exc:
        raise Unreachable(
            f"did not answer within {seconds_text(budget_s)} s",
            hint="check that the device is on and on this network, or raise its --timeout",
        ) from exc
    except OSError as exc:
        raise Unreachable(
            f"cannot be reached ({exc.strerror or exc})", hint="check the device's network"
        ) from exc
    try:
        sock.settimeout(max(0.01, budget_s - (time.monotonic() - started)))
        greeting = sock.recv(256, socket.MSG_PEEK)
    except TimeoutError as exc:
        sock.close()
        raise Unreachable(
            f"sent no SSH banner within {seconds_text(budget_s)} s",
            hint=f"check that port {port} is the device's sshd, or raise its --timeout for a slow link",
        ) from exc
    except OSError:  # reset by the peer
        greeting = b""
    if not greeting:
        sock.close()
        raise Unreachable(
            "closed the connection before the SSH banner",
            hint=f"check that port {port} is the device's sshd and that it lets this machine in "
            "(MaxStartups, AllowUsers, tcp wrappers, fail2ban)",
        )
    return sock, greeting


def seconds_text(value: float) -> str:
    """Seconds as people write them: 2, 1.5."""
    return f"{value:.1f}".removesuffix(".0")
