"""A small HTTP(S) server for the HTTP Task specs, on 127.0.0.1.

    python3 http_server.py [--tls CERT KEY]

Prints its port on the first line, then serves until killed:
  /echo...          answers 200 with JSON: method, path, query, headers, body
  /status/NNN       answers NNN with a JSON body {"error": "..."}
  /text             answers 200 text/plain
  /slow?s=N         answers after N seconds
  /oauth/token      client credentials: Basic client:secret -> access_token
  /need-bearer      200 with the Authorization header it got, 401 without
  /v1/customers/ID  examples/onboarding's customers API (cus_42 exists)
"""
import base64
import http.server
import json
import ssl
import sys
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body, ctype="application/json", reason=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status, reason)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Multi", "one")
        self.send_header("X-Multi", "two")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode() if n else ""

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            self.body()
            return self.answer(code, json.dumps({"error": "status %d" % code}))
        if url.path == "/text":
            return self.answer(200, "plain words", "text/plain")
        if url.path == "/slow":
            time.sleep(float(query.get("s", ["1"])[0]))
            return self.answer(200, "{}")
        if url.path == "/oauth/token":
            form = urllib.parse.parse_qs(self.body())
            auth = self.headers.get("Authorization", "")
            good = "Basic " + base64.b64encode(b"client:secret").decode()
            if auth != good or form.get("grant_type") != ["client_credentials"]:
                return self.answer(401, json.dumps({"error": "invalid_client"}))
            return self.answer(200, json.dumps({"access_token": "tok-" + form.get("scope", ["none"])[0],
                                                "expires_in": 3600, "token_type": "Bearer"}))
        if url.path.startswith("/v1/customers/"):
            # the customers API of examples/onboarding
            cid = url.path.rsplit("/", 1)[1]
            if cid != "cus_42":
                return self.answer(404, json.dumps({"error": "no such customer"}))
            return self.answer(200, json.dumps({"id": cid, "name": "Ada", "balance": 250,
                                                "authorization": self.headers.get("Authorization")}))
        if url.path == "/need-bearer":
            auth = self.headers.get("Authorization")
            if not auth:
                return self.answer(401, json.dumps({"error": "no token"}))
            return self.answer(200, json.dumps({"authorization": auth}))
        headers = {k: v for k, v in self.headers.items()}
        return self.answer(200, json.dumps({"method": self.command, "path": url.path, "query": query,
                                            "headers": headers, "body": self.body()}))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that gave up (a timeout spec) is expected: stay quiet
        pass


def main():
    server = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
