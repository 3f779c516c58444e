"""Is a Kafka broker answering? One Metadata request (API key 3, v0) over a plain socket.

Why: readiness must come from the service, not from its log (an old log line from a
previous run would match at once). The stack scripts run before any virtualenv
exists, so this uses the standard library only. Exit 0 when the broker answered
with at least one broker in the cluster, 1 otherwise.

    python3 kafka_ready.py 127.0.0.1:9092 [timeout-seconds] [brokers-expected]
"""

from __future__ import annotations

import socket
import struct
import sys

CLIENT_ID = b"vnbridge-stack"
CORRELATION_ID = 0x5EED


def metadata_request() -> bytes:
    # header v1: api_key, api_version, correlation_id, client_id; body v0: topics [] (= all)
    body = struct.pack(">hhih", 3, 0, CORRELATION_ID, len(CLIENT_ID)) + CLIENT_ID + struct.pack(">i", 0)
    return struct.pack(">i", len(body)) + body


def _read(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return buf


def brokers_answering(host: str, port: int, timeout: float) -> int:
    """How many brokers the cluster metadata lists (raises on no answer)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(metadata_request())
        (size,) = struct.unpack(">i", _read(sock, 4))
        payload = _read(sock, size)
    corr, count = struct.unpack(">ii", payload[:8])
    if corr != CORRELATION_ID:
        raise ConnectionError("answer to another request")
    return int(count)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or ":" not in argv[1]:
        print("usage: kafka_ready.py HOST:PORT [TIMEOUT] [BROKERS]", file=sys.stderr)
        return 2
    host, _, port = argv[1].rpartition(":")
    timeout = float(argv[2]) if len(argv) > 2 else 2.0
    want = int(argv[3]) if len(argv) > 3 else 1
    try:
        return 0 if brokers_answering(host, int(port), timeout) >= want else 1
    except (OSError, struct.error, ConnectionError):
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
