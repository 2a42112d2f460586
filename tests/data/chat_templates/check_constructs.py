#!/usr/bin/python3
# Checks the hand-worked expectations of constructs.jsonl (written from the Jinja documentation
# and Python's semantics) against jinja2 itself, configured as transformers configures it.
# Run: /usr/bin/python3 check_constructs.py (needs python3-jinja2). Prints the cases that differ.
import json, jinja2, jinja2.ext, datetime, pathlib
from jinja2.sandbox import ImmutableSandboxedEnvironment
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env.globals["strftime_now"] = lambda f: datetime.date(2026,1,15).strftime(f)
cases = [json.loads(l) for l in (pathlib.Path(__file__).parent / 'constructs.jsonl').read_text().splitlines() if l]
bad = 0
for case in cases:
    tmpl, ctx = case['template'], case['context']
    want = 'EXC' if case.get('fails') else case['text']
    try:
        got = env.from_string(tmpl).render(**ctx)
    except Exception as e:
        got = 'EXC'
    if got != want:
        bad += 1
        print('DIFF', repr(tmpl), '\n  hand:', repr(want), '\n  jinja2:', repr(got))
print(len(cases), 'cases', bad, 'differ')
