#!/usr/bin/env python3
"""A minimal AsyncTask webhook receiver for the Compose demo: prints each delivery and answers 204.

    python3 webhook-receiver.py [--host 0.0.0.0] [--port 8082]

Each delivery is printed as one JSON line: the path, the AsyncTask-* and Idempotency-Key headers, and the event
body. It does not verify the AsyncTask-Signature header; the README's "Webhook signatures" section describes
how a real receiver must.
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k: v for k, v in self.headers.items() if k.lower().startswith("asynctask-") or k.lower() == "idempotency-key"}
        print(json.dumps({"path": self.path, "headers": headers, "body": body}, sort_keys=True), flush=True)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        # A health route for orchestrators.
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format, *args):
        pass  # one line per delivery is printed above; access logs would only repeat it


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8082)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"webhook receiver listening on {args.host}:{server.server_address[1]}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
