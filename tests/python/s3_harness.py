"""A real S3-compatible server for the object-storage tests, and a proxy in
front of it that counts bytes and injects faults.

- `S3Server`: moto's S3 server (PyPI `moto`) on 127.0.0.1 with request
  authentication on: every request after the set-up must carry a valid SigV4
  signature of an IAM access key the harness creates (moto recomputes the
  signature and answers SignatureDoesNotMatch otherwise).
- `S3Proxy`: an HTTP proxy on 127.0.0.1 that forwards requests unchanged
  (the Host header too, so signatures stay valid), counts the bytes of every
  response body, and can fail a share of the requests with 500, 503 SlowDown
  or a reset connection, or refuse every write after a number of them.

Both stop when their `stop()` runs (the fixtures in test_s3.py call it).
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKET = "lodestar-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    # A TCP connect only: an HTTP request would use up one of moto's unauthenticated set-up calls.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class S3Server:
    """moto's S3 server with SigV4 checking, an IAM user with full S3 access, and one bucket."""

    # IAM calls of the set-up (create user, access key, policy) are the only unauthenticated requests.
    SETUP_CALLS = 3

    def __init__(self, log_path: str):
        self.port = free_port()
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(self.SETUP_CALLS))
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(k, None)
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port)
            self.key_id, self.secret = self._create_user()
            self.client().create_bucket(Bucket=BUCKET)
        except BaseException:
            self.stop()
            raise

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _create_user(self) -> tuple[str, str]:
        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="lodestar")
        key = iam.create_access_key(UserName="lodestar")["AccessKey"]
        # Everything (IAM too), so that tests can add users with narrower rights later.
        iam.put_user_policy(UserName="lodestar", PolicyName="all",
                            PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}')
        return key["AccessKeyId"], key["SecretAccessKey"]

    def create_user(self, name: str, actions: list[str]) -> tuple[str, str]:
        """Another IAM user allowed only `actions` (e.g. ["s3:GetObject", "s3:ListBucket"]); returns its key."""
        import json

        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                           aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName=name, PolicyName="limited", PolicyDocument=json.dumps(policy))
        return key["AccessKeyId"], key["SecretAccessKey"]

    def client(self, endpoint: str | None = None):
        """A boto3 S3 client with the test user's key (straight to the server unless endpoint is given)."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=endpoint or self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """The AWS environment a Lodestar process needs to use this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint or self.endpoint,
            "LODESTAR_S3_URL_STYLE": "path",
        }

    def keys(self, prefix: str = "") -> list[str]:
        s3 = self.client()
        out, token = [], None
        while True:
            kw = {"Bucket": BUCKET, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
            page = s3.list_objects_v2(**kw)
            out += [o["Key"] for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(out)
            token = page["NextContinuationToken"]

    def multipart_uploads(self, prefix: str = "") -> list[dict]:
        return self.client().list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@dataclass
class ProxyStats:
    requests: list[tuple[str, str, int, int]] = field(default_factory=list)  # method, path, status, body bytes sent back
    faults: int = 0

    def bytes_for(self, method: str = "GET", path_contains: str = "") -> int:
        return sum(n for m, p, _, n in self.requests if m == method and path_contains in p)

    def count(self, method: str | None = None) -> int:
        return sum(1 for m, *_ in self.requests if method is None or m == method)


class S3Proxy:
    """Forwards HTTP requests to `upstream` (host, port) from 127.0.0.1:<port>.

    fault_rate: share of requests answered with 500, 503 SlowDown or a reset
    connection instead of being forwarded (seeded, so runs repeat).
    refuse_writes_after: after this many PUT requests (object and part
    uploads), every further PUT gets a reset connection: an upload cut off
    mid-way, while deletes still go through (so clean-up can be checked).
    """

    def __init__(self, upstream_port: int, fault_rate: float = 0.0, seed: int = 7, refuse_writes_after: int | None = None):
        self.upstream_port = upstream_port
        self.fault_rate = fault_rate
        self.refuse_writes_after = refuse_writes_after
        self.stats = ProxyStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._writes = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = proxy._decide(self.command)
                if action == "reset":
                    # SO_LINGER 0: close with a TCP reset, as a dropped connection looks to the client.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    proxy._record(self.command, self.path, 0, 0)
                    self.connection.close()
                    return
                if action in (500, 503):
                    code = "SlowDown" if action == 503 else "InternalError"
                    payload = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                               f"<Message>injected by the test proxy</Message></Error>").encode()
                    self.send_response(action)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    proxy._record(self.command, self.path, action, 0)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items()}
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in headers.items():
                        conn.putheader(k, v)
                    conn.endheaders(body if body else None)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status, resp.reason)
                sent_length = False
                for k, v in resp.getheaders():
                    if k.lower() in ("transfer-encoding", "connection"):
                        continue
                    if k.lower() == "content-length":
                        sent_length = True
                    self.send_header(k, v)
                if not sent_length:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                proxy._record(self.command, self.path, resp.status, len(data) if self.command != "HEAD" else 0)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _decide(self, method: str):
        with self._lock:
            if method == "PUT":
                self._writes += 1
                if self.refuse_writes_after is not None and self._writes > self.refuse_writes_after:
                    self.stats.faults += 1
                    return "reset"
            if self.fault_rate and self._rng.random() < self.fault_rate:
                self.stats.faults += 1
                return self._rng.choice([500, 503, "reset"])
        return None

    def _record(self, method, path, status, nbytes):
        with self._lock:
            self.stats.requests.append((method, path, status, nbytes))

    def reset_stats(self) -> None:
        with self._lock:
            self.stats = ProxyStats()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
