#!/usr/bin/env python3
"""The providers agree in the three places that name them: the code (`hookline providers
--json`), the catalogue table of docs/providers.md, and the data-driven cases, one folder
per provider under tests/providers/. A provider added to one and not the others fails
here (`make check-providers`, run by `make test`).

An alias (a key the code lists with `alias_of`, providers/aliases.c) is served by its
row's cases, so it needs no folder of its own; the docs list it as "alias of `<row>`",
naming the same row as the code.

    python3 tests/check-providers.py path/to/hookline
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def in_code(cli):
    """{key: the row it is an alias of, or None for a row}"""
    return {p["name"]: p.get("alias_of") for p in json.loads(subprocess.check_output([cli, "providers", "--json"]))}


def in_docs():
    """{key: the row the catalogue says it is an alias of, or None}"""
    names, in_catalogue = {}, False
    with open(os.path.join(ROOT, "docs", "providers.md"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                in_catalogue = line.startswith("## The catalogue")
                continue
            m = re.match(r"\| `([a-z0-9-]+)` \|", line)
            if in_catalogue and m:
                alias = re.match(r"\| `[a-z0-9-]+` \| alias of `([a-z0-9-]+)` \|", line)
                names[m.group(1)] = alias.group(1) if alias else None
    return names


def event_types_in_docs():
    """{row: (Nango's event type, hookline's)} from the event types table of the docs."""
    types, in_table = {}, False
    with open(os.path.join(ROOT, "docs", "providers.md"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                in_table = line.startswith("## Event types")
                continue
            m = re.match(r"\| `([a-z0-9-]+)` \| `([^`]*)` \| `([^`]*)` \|$", line.strip())
            if in_table and m:
                types[m.group(1)] = (m.group(2), m.group(3))
    return types


def connection_secret_rows_in_docs():
    """{row: [places]} from the list in docs/providers.md's "Per-connection secrets"."""
    rows, inside = {}, False
    with open(os.path.join(ROOT, "docs", "providers.md"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("<!-- connection-secret-rows:"):
                inside = "begin" in line
                continue
            m = re.match(r"- `([a-z0-9-]+)`: (.*)$", line.strip())
            if inside and m:
                rows[m.group(1)] = [" ".join(p.replace("`", "").split(" ", 1)) for p in m.group(2).split(", ")]
    return rows


def in_tests():
    base = os.path.join(ROOT, "tests", "providers")
    return {d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d))}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    code, docs, tests = in_code(sys.argv[1]), in_docs(), in_tests()
    rows = {k for k, row in code.items() if row is None}
    aliases = {k: row for k, row in code.items() if row is not None}
    ok = bool(code)
    # Every key is in the code and the docs; every row (not an alias) has its cases.
    places = {"the code": set(code), "docs/providers.md": set(docs), "tests/providers/": tests | set(aliases)}
    everyone = set().union(*places.values())
    for where, names in places.items():
        missing = sorted(everyone - names)
        if missing:
            ok = False
            print(f"providers missing from {where}: {', '.join(missing)}", file=sys.stderr)
    for key in sorted(set(code) & set(docs)):
        if code[key] != docs[key]:
            ok = False
            print(f"{key}: the code says alias of {code[key]}, docs/providers.md says {docs[key]}", file=sys.stderr)
    # The event types table says what the code computes, for every row.
    listed = {p["name"]: (p["nango_event_type"], p["event_type"])
              for p in json.loads(subprocess.check_output([sys.argv[1], "providers", "--json"])) if not p["alias_of"]}
    documented = event_types_in_docs()
    for key in sorted(listed):
        if documented.get(key) != listed[key]:
            ok = False
            print(f"{key}: docs/providers.md's event types say {documented.get(key)}, the code {listed[key]}",
                  file=sys.stderr)
    # The rows whose connections need their own secret, and where: the docs list every one.
    needs = {p["name"]: p["connection_secret_for"]
             for p in json.loads(subprocess.check_output([sys.argv[1], "providers", "--json"]))
             if not p["alias_of"] and p["connection_secret_for"]}
    listed_needs = connection_secret_rows_in_docs()
    if not listed_needs:
        ok = False
        print("docs/providers.md: no list of the rows that need a connection's own secret", file=sys.stderr)
    for key in sorted(set(needs) | set(listed_needs)):
        if needs.get(key) != listed_needs.get(key):
            ok = False
            print(f"{key}: docs/providers.md's per-connection secrets say {listed_needs.get(key)}, the code "
                  f"{needs.get(key)}", file=sys.stderr)
    stray = sorted(tests & set(aliases))
    if stray:
        ok = False
        print(f"aliases are served by their row's cases, not folders of their own: {', '.join(stray)}", file=sys.stderr)
    if not ok:
        sys.exit(1)
    print(f"providers: {len(rows)} rows and {len(aliases)} aliases agree in the code, docs/providers.md and tests/providers/")


if __name__ == "__main__":
    main()
