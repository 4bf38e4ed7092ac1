"""A status-callback receiver for vroom's webhook tests.

It validates every request's X-Twilio-Signature with Twilio's own RequestValidator (twilio-python),
optionally reads the state back from vroom through Twilio's REST client as soon as a callback arrives
(to show reads agree with callbacks), and prints one JSON line per request on stdout. The first line
is {"listening": PORT}.

Options:
  --auth-token TOKEN   the account auth token vroom signs with (required)
  --port PORT          port to listen on (0: any free port)
  --fail-first N       answer 500 to the first N requests
  --delay-ms MS        wait this long before answering each request
  --check-reads        fetch the participant or room named by each callback from vroom
                       (VROOM_BASE_URL, VROOM_ACCOUNT_SID, VROOM_API_KEY_SID, VROOM_API_KEY_SECRET)
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from twilio.request_validator import RequestValidator
from twilio.rest import Client

lock = threading.Lock()
state = {"requests": 0}


def emit(record):
    with lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


def make_handler(args, validator, client):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def handle_callback(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            url = "http://" + self.headers["Host"] + self.path
            if method == "POST":
                params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
                valid = validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
            else:
                params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True))
                valid = validator.validate(url, {}, self.headers.get("X-Twilio-Signature", ""))
            with lock:
                state["requests"] += 1
                n = state["requests"]
            record = {
                "n": n,
                "method": method,
                "path": urllib.parse.urlsplit(self.path).path,
                "params": params,
                "valid": valid,
                "idempotency": self.headers.get("I-Twilio-Idempotency-Token"),
                "content_type": self.headers.get("Content-Type"),
                "at": time.time(),
            }
            failing = n <= args.fail_first
            if client is not None and not failing:
                record["read"] = read_back(client, params)
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000)
            record["answered"] = 500 if failing else 200
            record["answered_at"] = time.time()
            emit(record)
            reply = b"fail" if failing else b"ok"
            self.send_response(500 if failing else 200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_POST(self):
            self.handle_callback("POST")

        def do_GET(self):
            self.handle_callback("GET")

    return Handler


class QuietServer(ThreadingHTTPServer):
    # vroom abandons a delivery in flight when it stops; the reset connection is expected here.
    def handle_error(self, request, client_address):
        pass


def read_back(client, params):
    """What vroom's REST API says about the callback's subject, right now."""
    event = params.get("StatusCallbackEvent", "")
    room = client.video.v1.rooms(params["RoomSid"])
    try:
        if event.startswith("participant-"):
            return room.participants(params["ParticipantSid"]).fetch().status
        if event.startswith("room-"):
            return room.fetch().status
    except Exception as e:  # noqa: BLE001 - reported to the test as data
        return "error: %s" % e
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--check-reads", action="store_true")
    args = parser.parse_args()
    client = None
    if args.check_reads:
        client = Client(os.environ["VROOM_API_KEY_SID"], os.environ["VROOM_API_KEY_SECRET"], os.environ["VROOM_ACCOUNT_SID"])
        client.video.base_url = os.environ["VROOM_BASE_URL"]
    server = QuietServer(("127.0.0.1", args.port), make_handler(args, RequestValidator(args.auth_token), client))
    emit({"listening": server.server_address[1]})
    server.serve_forever()


if __name__ == "__main__":
    main()
