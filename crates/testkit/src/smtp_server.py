"""An SMTP server for tests (aiosmtpd): AUTH with one user, STARTTLS or TLS with the test's
certificate, every accepted message written to a folder as NNNN.eml plus NNNN.json (the
envelope). Recipients at reject.test are refused with 550, at later.test with 451."""

import argparse
import asyncio
import itertools
import json
import pathlib
import signal
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--dir", required=True)
parser.add_argument("--mode", choices=["starttls", "tls", "none"], required=True)
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--user", required=True)
parser.add_argument("--password", required=True)
args = parser.parse_args()
out = pathlib.Path(args.dir)
counter = itertools.count(1)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@reject.test"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        if address.endswith("@later.test"):
            return "451 4.3.0 <%s>: Mailbox busy, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        (out / ("%04d.eml" % n)).write_bytes(envelope.original_content or envelope.content)
        meta = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
                "authenticated": bool(session.authenticated)}
        (out / ("%04d.json" % n)).write_text(json.dumps(meta))
        return "250 2.0.0 Ok: queued as T%04d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == args.user.encode()
          and auth_data.password == args.password.encode())
    return AuthResult(success=ok, handled=False)


context = None
if args.mode != "none":
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

# aiosmtpd only counts STARTTLS as TLS for auth_require_tls: under implicit TLS the session
# is encrypted from the start anyway.
kwargs = dict(hostname="127.0.0.1", port=args.port, authenticator=authenticator, auth_required=True,
              auth_require_tls=args.mode == "starttls")
if args.mode == "starttls":
    kwargs.update(tls_context=context, require_starttls=True)
elif args.mode == "tls":
    kwargs.update(ssl_context=context)
controller = Controller(Handler(), **kwargs)
controller.start()
print("ready", flush=True)
stop = asyncio.new_event_loop()
signal.signal(signal.SIGTERM, lambda *_: stop.call_soon_threadsafe(stop.stop))
stop.run_forever()
controller.stop()
