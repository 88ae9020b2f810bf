"""A real S3-protocol server on loopback (moto's server mode) and a fault-injecting HTTP proxy.

The proxy sits between boto3 and moto, forwards real HTTP, and on demand answers 503 SlowDown,
403 AccessDenied, or stops listening altogether (the server "goes away" while moto keeps its state,
so a re-run after the fault can complete).
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class MotoServer:
    def __init__(self):
        self.port = free_port()
        binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
        self.process = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for(self.port)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class FaultProxy:
    """Forwards to ``upstream``; ``fail_next`` and ``deny`` inject S3 error responses."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.failures_left = 0
        self.fail_status, self.fail_code = 503, "SlowDown"
        self.fail_methods = ("PUT", "POST", "GET", "HEAD", "DELETE")
        self.denied: list[str] = []
        self.injected = 0
        self._lock = threading.Lock()
        self._server = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(
        self, count: int, status: int = 503, code: str = "SlowDown", methods=("PUT", "POST", "GET", "HEAD", "DELETE")
    ):
        with self._lock:
            self.failures_left, self.fail_status, self.fail_code, self.fail_methods = count, status, code, methods

    def deny(self, path_part: str) -> None:
        self.denied.append(path_part)

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _error(self, status: int, code: str) -> None:
                body = (
                    f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                    f"<Message>injected by the test proxy</Message></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self) -> None:
                body = self._body()
                with proxy._lock:
                    inject = proxy.failures_left > 0 and self.command in proxy.fail_methods
                    if inject:
                        proxy.failures_left -= 1
                        proxy.injected += 1
                if inject:
                    return self._error(proxy.fail_status, proxy.fail_code)
                if any(part in self.path for part in proxy.denied):
                    return self._error(403, "AccessDenied")
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")
                }
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """The server disappears: connections are refused until ``start``."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def s3_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
