#!/usr/bin/env python3
"""A local SageMaker real-time endpoint (InvokeEndpoint) for the `sagemaker` generator's tests.

Every request's SigV4 signature is recomputed with botocore's own signer (SigV4Auth's
canonical_request / string_to_sign / signature over the headers the request says it signed) with
the secret given here: a mismatch is 403 InvalidSignatureException, as SageMaker answers. The body
is checked against the payload form the endpoint was started with: `tgi` ({"inputs": str,
"parameters": {...}} as the Hugging Face LLM container takes it: max_new_tokens, do_sample,
details, return_full_text, seed; no temperature of 0, no top_p of 1) or `messages` (the OpenAI
chat body). A bad body is 400 naming the fault. The answer to a prompt containing "SAMPLE-<n>"
is "answer <n>" (tgi: followed by the first stop sequence, as TGI keeps it). The first request
for SAMPLE-2 gets 400 ThrottlingException. Each request is logged as one JSON line.

  fake_sagemaker_endpoint.py --port-file F --log L --secret S --form tgi|messages
Exit 3 when botocore is missing (the C++ test skips then).
"""
import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler

from aws_fake_endpoint import reply_json, serve, signature_ok

ENDPOINT = "my-endpoint"
KEY_ID = "AKIDEXAMPLE"
lock = threading.Lock()
seen = {}


def check_tgi(body):
    if set(body) != {"inputs", "parameters"} or not isinstance(body["inputs"], str):
        return "body must be {inputs: str, parameters: {...}}"
    p = body["parameters"]
    allowed = {"max_new_tokens", "do_sample", "details", "return_full_text", "seed", "temperature",
               "top_p", "top_k", "repetition_penalty", "stop"}
    if set(p) - allowed:
        return f"unknown parameters {sorted(set(p) - allowed)}"
    if not isinstance(p.get("max_new_tokens"), int) or p["max_new_tokens"] < 1:
        return "max_new_tokens must be a positive integer"
    if p.get("temperature", 1) <= 0 or not 0 < p.get("top_p", 0.5) < 1:
        return "temperature must be > 0 and top_p in (0, 1) when given"
    if p.get("details") is not True or p.get("return_full_text") is not False:
        return "details must be true and return_full_text false"
    if not isinstance(p.get("seed"), int) or p["seed"] < 0:
        return "seed must be a non-negative integer"
    return None


def check_messages(body):
    msgs = body.get("messages")
    if not (isinstance(msgs, list) and len(msgs) == 1 and msgs[0].get("role") == "user"
            and isinstance(msgs[0].get("content"), str)):
        return "messages must be one user message"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens must be an integer"
    return None


def make_handler(args):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, obj, error_type=None):
            reply_json(self, status, obj, error_type)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            entry = {"path": self.path}
            try:
                if not signature_ok(self, body, KEY_ID, args.secret, "sagemaker"):
                    entry["status"] = 403
                    return self.reply(403, {"message": "The request signature we calculated does "
                                            "not match the signature you provided."},
                                      "InvalidSignatureException")
                if self.path != f"/endpoints/{ENDPOINT}/invocations":
                    entry["status"] = 400
                    return self.reply(400, {"message": f"Endpoint for {self.path} not found."},
                                      "ValidationError")
                doc = json.loads(body)
                problem = check_tgi(doc) if args.form == "tgi" else check_messages(doc)
                if problem:
                    entry["status"] = 400
                    entry["problem"] = problem
                    return self.reply(400, {"message": problem}, "ValidationError")
                prompt = doc["inputs"] if args.form == "tgi" else doc["messages"][0]["content"]
                m = re.search(r"SAMPLE-(\d+)", prompt)
                n = int(m.group(1)) if m else -1
                entry["sample"] = n
                with lock:
                    seen[n] = seen.get(n, 0) + 1
                    nth = seen[n]
                if n == 2 and nth == 1:
                    entry["status"] = 400
                    return self.reply(400, {"message": "Rate exceeded"}, "ThrottlingException")
                entry["status"] = 200
                text = f"answer {n}"
                if args.form == "tgi":
                    stop = doc["parameters"].get("stop") or []
                    reason = "stop_sequence" if stop else "eos_token"
                    self.reply(200, [{"generated_text": text + (stop[0] if stop else ""),
                                      "details": {"finish_reason": reason,
                                                  "generated_tokens": 3}}])
                else:
                    self.reply(200, {"model": "tgi", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 3}})
            finally:
                with lock, open(args.log, "a") as f:
                    f.write(json.dumps(entry) + "\n")

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--form", choices=["tgi", "messages"], required=True)
    args = ap.parse_args()
    serve(make_handler(args), args.port_file)


if __name__ == "__main__":
    main()
