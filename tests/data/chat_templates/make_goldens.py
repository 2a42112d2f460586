#!/usr/bin/python3
"""Renders every templates/*.jinja with every line of conversations.jsonl the way Hugging Face
transformers' apply_chat_template does (jinja2's ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols; tojson = json.dumps(ensure_ascii=False, ...); raise_exception;
strftime_now fixed to 2026-01-15) and writes goldens.jsonl. The goldens are jinja2's output,
independent of Assay's interpreter. Run: /usr/bin/python3 make_goldens.py (needs python3-jinja2).
"""
import datetime
import json
import pathlib

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = pathlib.Path(__file__).parent
TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
TODAY = datetime.date(2026, 1, 15)


class Refused(Exception):
    pass


def raise_exception(message):
    raise Refused(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                       extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: TODAY.strftime(fmt)
    return env


def main():
    env = environment()
    conversations = [json.loads(l) for l in (HERE / "conversations.jsonl").read_text().splitlines() if l.strip()]
    with open(HERE / "goldens.jsonl", "w", encoding="utf-8") as out:
        for path in sorted((HERE / "templates").glob("*.jinja")):
            template = env.from_string(path.read_text())
            for conv in conversations:
                variables = dict(TOKENS, messages=conv["messages"], tools=conv.get("tools"), documents=None,
                                 add_generation_prompt=conv["add_generation_prompt"], **conv["kwargs"])
                text, error, failed = None, None, False
                try:
                    text = template.render(**variables)
                except Refused as e:
                    error = str(e)
                except Exception:  # an error of the template's own operations (e.g. undefined)
                    failed = True
                line = dict(template=path.stem, messages=conv["messages"], tools=conv.get("tools"),
                            add_generation_prompt=conv["add_generation_prompt"], kwargs=conv["kwargs"],
                            text=text, error=error, failed=failed)
                out.write(json.dumps(line, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
