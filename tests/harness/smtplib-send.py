"""Sends one message with Python's smtplib (a sender nobody in the project wrote) and prints the
outcome as one JSON line. argv[1] is a JSON object: host, port, mail_from, rcpt_to (list),
message_file, cafile (STARTTLS verified against it when set), pause_before_data (read one line
from stdin after RCPT, so a test can break something before DATA)."""
import json
import smtplib
import ssl
import sys

args = json.loads(sys.argv[1])
out = {"stage": "connect"}
try:
    with smtplib.SMTP(args["host"], args["port"], local_hostname="sender.test", timeout=30) as s:
        s.ehlo()
        out["starttls_offered"] = s.has_extn("starttls")
        out["size"] = s.esmtp_features.get("size")
        if args.get("cafile"):
            ctx = ssl.create_default_context(cafile=args["cafile"])
            code, _ = s.starttls(context=ctx)
            out["starttls"] = code
            s.ehlo()
        with open(args["message_file"], "rb") as f:
            msg = f.read()
        out["stage"] = "mail"
        code, resp = s.mail(args["mail_from"])
        if code != 250:
            raise smtplib.SMTPResponseException(code, resp)
        out["stage"] = "rcpt"
        for rcpt in args["rcpt_to"]:
            code, resp = s.rcpt(rcpt)
            if code not in (250, 251):
                raise smtplib.SMTPResponseException(code, resp)
        if args.get("pause_before_data"):
            print(json.dumps({"paused": True}), flush=True)
            sys.stdin.readline()
        out["stage"] = "data"
        code, resp = s.data(msg)
        out["code"] = code
        out["reply"] = resp.decode("utf8", "replace")
except smtplib.SMTPResponseException as e:
    out["code"] = e.smtp_code
    out["reply"] = e.smtp_error.decode("utf8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
except Exception as e:  # noqa: BLE001 - the test asserts on what happened
    out["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out), flush=True)
