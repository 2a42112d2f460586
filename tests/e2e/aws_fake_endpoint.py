"""What the local AWS endpoints of the e2e tests share (fake_sagemaker_endpoint.py,
fake_bedrock_endpoint.py): recomputing a request's SigV4 signature with botocore's own signer,
answering JSON with an AWS error type, and serving on a free port written to a file.
Importing it exits 3 when botocore is missing (the C++ tests skip then)."""
import json
import os
import re
import sys
from http.server import ThreadingHTTPServer

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover
    print(f"missing python module: {e}")
    sys.exit(3)


def signature_ok(handler, body, key_id, secret, service, token=None):
    """True when the request's Authorization is SigV4 for `key_id` and `service` and its
    signature is what botocore computes (canonical_request / string_to_sign / signature) over
    the headers the request says it signed, with `secret` (and `token`)."""
    auth = handler.headers.get("Authorization", "")
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                 r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$", auth)
    if not m or m.group(1) != key_id or m.group(4) != service:
        return False
    signed = m.group(5).split(";")
    headers = {h: handler.headers.get(h, "") for h in signed}
    url = "http://" + handler.headers["Host"] + handler.path
    request = AWSRequest(method=handler.command, url=url, data=body, headers=headers)
    request.context["timestamp"] = handler.headers.get("X-Amz-Date", "")
    signer = SigV4Auth(Credentials(key_id, secret, token), service, m.group(3))
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    return signer.signature(string_to_sign, request) == m.group(6)


def reply_json(handler, status, obj, error_type=None, error_type_suffix=""):
    """Sends `obj` as JSON with `status`; an AWS error names its type in x-amzn-ErrorType."""
    data = json.dumps(obj).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    if error_type:
        handler.send_header("x-amzn-ErrorType", error_type + error_type_suffix)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def serve(handler_class, port_file):
    """Serves on a free 127.0.0.1 port, written to `port_file` (atomically) once listening."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()
