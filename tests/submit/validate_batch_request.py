#!/usr/bin/env python3
"""Validates evalctl --backend batch --dry-run lines against botocore's service models.

Reads JSON lines ({"service": "batch", "method": "POST", "path": "/v1/...", "body": {...}}) from
the file named on the command line. Each Batch line is matched to the operation of the `batch`
model whose requestUri is its path and checked with botocore's ParamValidator (required members,
unknown keys, types, min) plus max / pattern / enum from the model (validate_sagemaker_request's
`check`), plus what the Batch API reference states in prose only (jobName 1..128 of
[A-Za-z0-9_-], schedulingPriority 0..9999, retryStrategy.attempts 1..10, shareIdentifier 1..255
alphanumerics and '_'). The serviceRequestPayload of SubmitServiceJob must be a JSON string that
passes the same checks against the `sagemaker` model's CreateTrainingJob. S3 lines are skipped.
Prints one problem per line and exits 1 if any; exit 0 and "ok N" (Batch lines checked)
otherwise. Exit 3 when botocore or regex is missing (the C++ test skips then).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import botocore.session
    from botocore.validate import ParamValidator
    import regex
    from validate_sagemaker_request import check
except ImportError as e:  # pragma: no cover
    print(f"missing python module: {e}")
    sys.exit(3)


def validate(op, body, where, problems):
    report = ParamValidator().validate(body, op.input_shape)
    if report.has_errors():
        problems.append(f"{where}: {report.generate_report()}")
    check(op.input_shape, body, where, problems)


def prose_rules(body, where, problems):
    name = body.get("jobName")
    if isinstance(name, str) and not regex.fullmatch(r"[A-Za-z0-9_-]{1,128}", name):
        problems.append(f"{where}.jobName: {name!r} is not 1..128 of [A-Za-z0-9_-]")
    prio = body.get("schedulingPriority")
    if prio is not None and not (isinstance(prio, int) and 0 <= prio <= 9999):
        problems.append(f"{where}.schedulingPriority: {prio!r} not in 0..9999")
    attempts = body.get("retryStrategy", {}).get("attempts")
    if attempts is not None and not (isinstance(attempts, int) and 1 <= attempts <= 10):
        problems.append(f"{where}.retryStrategy.attempts: {attempts!r} not in 1..10")
    share = body.get("shareIdentifier")
    if share is not None and not regex.fullmatch(r"[A-Za-z0-9_]{1,255}", str(share)):
        problems.append(f"{where}.shareIdentifier: {share!r} is not 1..255 alphanumerics")


def main():
    session = botocore.session.get_session()
    batch = session.get_service_model("batch")
    sagemaker = session.get_service_model("sagemaker")
    by_uri = {}
    for name in batch.operation_names:
        op = batch.operation_model(name)
        by_uri[(op.http["method"], op.http["requestUri"])] = op
    training = sagemaker.operation_model("CreateTrainingJob")
    problems, checked = [], 0
    with open(sys.argv[1], encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            req = json.loads(line)
            if req.get("service") != "batch":
                continue
            op = by_uri.get((req.get("method"), req.get("path")))
            if op is None:
                problems.append(f"line {line_no}: no Batch operation at {req.get('path')}")
                continue
            where = f"line {line_no} {op.name}"
            validate(op, req["body"], where, problems)
            if op.name == "SubmitServiceJob":
                prose_rules(req["body"], where, problems)
                try:
                    payload = json.loads(req["body"]["serviceRequestPayload"])
                except (KeyError, TypeError, ValueError) as e:
                    problems.append(f"{where}.serviceRequestPayload: not a JSON string ({e})")
                else:
                    validate(training, payload, f"{where}.serviceRequestPayload", problems)
            checked += 1
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"ok {checked}")


if __name__ == "__main__":
    main()
