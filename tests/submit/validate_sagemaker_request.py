#!/usr/bin/env python3
"""Validates evalctl --dry-run lines against botocore's SageMaker service model.

Reads JSON lines ({"service": "sagemaker", "target": "SageMaker.Op", "body": {...}}) from the
file named on the command line, and for each SageMaker line runs botocore's ParamValidator
(required members, unknown keys, types, min) plus the checks botocore leaves out: max length /
size / value, pattern (full match, with the `regex` module for \\p{L}) and enum, all read from
the service model. Prints one problem per line and exits 1 if any; exit 0 and "ok N" otherwise.
Exit 3 when botocore or regex is missing (the C++ test skips then).
"""
import json
import sys

try:
    import botocore.session
    from botocore.validate import ParamValidator
    import regex
except ImportError as e:  # pragma: no cover
    print(f"missing python module: {e}")
    sys.exit(3)


def check(shape, value, path, problems):
    t = shape.type_name
    meta = shape.metadata
    if t == "structure":
        if not isinstance(value, dict):
            return
        for name, member in shape.members.items():
            if name in value:
                check(member, value[name], f"{path}.{name}", problems)
    elif t == "list":
        if not isinstance(value, list):
            return
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} items > max {meta['max']}")
        for i, item in enumerate(value):
            check(shape.member, item, f"{path}[{i}]", problems)
    elif t == "map":
        if not isinstance(value, dict):
            return
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} entries > max {meta['max']}")
        for k, v in value.items():
            check(shape.key, k, f"{path}<key {k!r}>", problems)
            check(shape.value, v, f"{path}[{k!r}]", problems)
    elif t == "string":
        if not isinstance(value, str):
            return
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: len {len(value)} > {meta['max']}")
        if "pattern" in meta and not regex.fullmatch(meta["pattern"], value):
            problems.append(f"{path}: {value!r} !~ /{meta['pattern']}/")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in enum")
    elif t in ("integer", "long", "float", "double"):
        if "max" in meta and isinstance(value, (int, float)) and value > meta["max"]:
            problems.append(f"{path}: {value} > max {meta['max']}")


def main():
    model = botocore.session.get_session().get_service_model("sagemaker")
    problems, checked = [], 0
    with open(sys.argv[1], encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            req = json.loads(line)
            if req.get("service") != "sagemaker":
                continue
            op_name = req["target"].split(".", 1)[1]
            op = model.operation_model(op_name)
            report = ParamValidator().validate(req["body"], op.input_shape)
            if report.has_errors():
                problems.append(f"line {line_no} {op_name}: {report.generate_report()}")
            check(op.input_shape, req["body"], f"line {line_no} {op_name}", problems)
            checked += 1
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"ok {checked}")


if __name__ == "__main__":
    main()
