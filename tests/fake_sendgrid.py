"""A loopback stand-in for SendGrid's v3 API that counts every Mail Send call it accepts.

It speaks the documented wire format: `POST /v3/mail/send` (202 with `X-Message-Id`) and the Email
Activity API `GET /v3/messages?query=unique_args['name']="value"&limit=N` (`{"messages": [...]}`).
A send is recorded once its body has been read, before the response: a client killed while waiting
for the answer has still sent the email, as with the real provider.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

QUERY = re.compile(r"""^\(?unique_args\['(?P<name>[^']+)'\]\s*=\s*"(?P<value>[^"]*)"\)?$""")


class FakeSendGrid:
    def __init__(self, *, latency: float = 0.0, activity_api: bool = True) -> None:
        self.latency = latency
        self.activity_api = activity_api
        self.sends: list[dict] = []
        self.activity_queries: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.sends.append(body)
                    number = len(fake.sends)
                time.sleep(fake.latency)
                self.send_response(202)
                self.send_header("X-Message-Id", f"fake{number}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query).get("query", [""])[0]
                with fake._lock:
                    fake.activity_queries.append(query)
                match = QUERY.match(query)
                if url.path != "/v3/messages" or not fake.activity_api or match is None:
                    status, payload = (
                        (403, {"errors": [{"message": "access forbidden"}]})
                        if not fake.activity_api
                        else (400, {"errors": [{"message": f"bad query {query!r}"}]})
                    )
                else:
                    payload = {"messages": fake.messages(match["name"], match["value"])}
                    status = 200
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSendGrid:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def messages(self, name: str, value: str) -> list[dict]:
        with self._lock:
            sends = list(enumerate(self.sends, start=1))
        return [
            {
                "msg_id": f"fake{number}.filter0001.1.0",
                "to_email": body["personalizations"][0]["to"][0]["email"],
                "subject": body.get("subject"),
                "status": "processing",
            }
            for number, body in sends
            if body["personalizations"][0].get("custom_args", {}).get(name) == value
        ]

    def calls_per_email(self) -> Counter:
        """Mail Send calls by our email id (`revorc_email_id` custom arg)."""
        with self._lock:
            return Counter(b["personalizations"][0]["custom_args"]["revorc_email_id"] for b in self.sends)
