#!/usr/bin/env python3
"""A local Amazon Bedrock runtime endpoint for the `bedrock` judge provider's tests.

Every request's SigV4 signature is recomputed with botocore's own signer (SigV4Auth's
canonical_request / string_to_sign / signature, signing name "bedrock") over the headers the
request says it signed, with the secret and session token given here: a mismatch is 403
InvalidSignatureException, a missing or wrong X-Amz-Security-Token 403 UnrecognizedClientException,
as Bedrock answers. botocore builds the canonical path from the path as received, so a model id
whose ':' was sent as %3A is signed as %253A, as the AWS SDKs sign it. The path must be
/model/<model id, percent-encoded>/converse (or /invoke with --api invoke). Converse bodies must be
{"messages": [{"role", "content": [{"text"}]}], "system": [{"text"}], "inferenceConfig"}; InvokeModel
bodies the Anthropic Messages form with anthropic_version bedrock-2023-05-31. The reply judges the
handbook rubric: for "SAMPLE-<n>" accuracy 1 + n % 3 and style 1 + (n // 3) % 3, usage 100 input
and 20 output tokens. The first request for SAMPLE-2 gets 429 ThrottlingException. Each request
is logged as one JSON line.

  fake_bedrock_endpoint.py --port-file F --log L --secret S --token T --model M --api converse|invoke
Exit 3 when botocore is missing (the C++ test skips then).
"""
import argparse
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from aws_fake_endpoint import reply_json, serve, signature_ok

KEY_ID = "AKIDBEDROCKTEST"
ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
lock = threading.Lock()
seen = {}


def text_of(content):
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if isinstance(b, dict))


def check_converse(body):
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return "messages must be a non-empty list"
    for m in msgs:
        if m.get("role") not in ("user", "assistant") or not isinstance(m.get("content"), list):
            return "each message needs role user|assistant and a content block list"
        if not all(isinstance(b, dict) and isinstance(b.get("text"), str) for b in m["content"]):
            return "content blocks must be {text: str}"
    if "system" in body and not isinstance(body["system"], list):
        return "system must be a list of {text} blocks"
    cfg = body.get("inferenceConfig", {})
    if not isinstance(cfg.get("maxTokens"), int) or cfg["maxTokens"] < 1:
        return "inferenceConfig.maxTokens must be a positive integer"
    if set(body) - {"messages", "system", "inferenceConfig"}:
        return f"unknown fields {sorted(set(body) - {'messages', 'system', 'inferenceConfig'})}"
    return None


def check_invoke(body):
    if body.get("anthropic_version") != "bedrock-2023-05-31":
        return "anthropic_version must be bedrock-2023-05-31"
    if not isinstance(body.get("max_tokens"), int) or "model" in body:
        return "max_tokens must be an integer and model absent"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs or any(m.get("role") == "system" for m in msgs):
        return "messages must be user/assistant turns (system goes top-level)"
    return None


def make_handler(args):
    want_path = "/model/" + urllib.parse.quote(args.model, safe="") + "/" + args.api

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, obj, error_type=None):
            reply_json(self, status, obj, error_type, ERROR_TYPE_SUFFIX)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            entry = {"path": self.path}
            try:
                if self.headers.get("X-Amz-Security-Token", "") != args.token:
                    entry["status"] = 403
                    return self.reply(403, {"message": "The security token included in the "
                                            "request is invalid."}, "UnrecognizedClientException")
                if not signature_ok(self, body, KEY_ID, args.secret, "bedrock", args.token):
                    entry["status"] = 403
                    return self.reply(403, {"message": "The request signature we calculated does "
                                            "not match the signature you provided. Check your AWS "
                                            "Secret Access Key and signing method."},
                                      "InvalidSignatureException")
                if self.path != want_path:
                    entry["status"] = 400
                    return self.reply(400, {"message": f"The provided model identifier is invalid "
                                            f"({self.path}, want {want_path})."},
                                      "ValidationException")
                doc = json.loads(body)
                problem = check_converse(doc) if args.api == "converse" else check_invoke(doc)
                if problem:
                    entry["status"] = 400
                    entry["problem"] = problem
                    return self.reply(400, {"message": problem}, "ValidationException")
                prompt = text_of(doc.get("system", "")) + "\n" + text_of(doc["messages"][0]["content"])
                m = re.search(r"SAMPLE-(\d+)", prompt)
                n = int(m.group(1)) if m else -1
                entry["sample"] = n
                with lock:
                    seen[n] = seen.get(n, 0) + 1
                    nth = seen[n]
                if n == 2 and nth == 1:
                    entry["status"] = 429
                    return self.reply(429, {"message": "Too many requests, please wait before "
                                            "trying again."}, "ThrottlingException")
                entry["status"] = 200
                text = json.dumps({"accuracy": {"analysis": "ok", "score": 1 + n % 3},
                                   "style": {"analysis": "ok", "score": 1 + (n // 3) % 3}})
                if args.api == "converse":
                    self.reply(200, {"output": {"message": {"role": "assistant",
                                                            "content": [{"text": text}]}},
                                     "stopReason": "end_turn",
                                     "usage": {"inputTokens": 100, "outputTokens": 20,
                                               "totalTokens": 120},
                                     "metrics": {"latencyMs": 5}})
                else:
                    self.reply(200, {"id": "msg_bdrk", "type": "message", "role": "assistant",
                                     "content": [{"type": "text", "text": text}],
                                     "stop_reason": "end_turn",
                                     "usage": {"input_tokens": 100, "output_tokens": 20}})
            finally:
                with lock, open(args.log, "a") as f:
                    f.write(json.dumps(entry) + "\n")

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--api", choices=["converse", "invoke"], required=True)
    args = ap.parse_args()
    serve(make_handler(args), args.port_file)


if __name__ == "__main__":
    main()
