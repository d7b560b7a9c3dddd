#!/usr/bin/env python3
"""The providers agree in the three places that name them: the code (`hookline providers
--json`), the catalogue table of docs/providers.md, and the data-driven cases, one folder
per provider under tests/providers/. A provider added to one and not the others fails
here (`make check-providers`, run by `make test`).

    python3 tests/check-providers.py path/to/hookline
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def in_code(cli):
    return {p["name"] for p in json.loads(subprocess.check_output([cli, "providers", "--json"]))}


def in_docs():
    names, in_catalogue = set(), False
    with open(os.path.join(ROOT, "docs", "providers.md"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                in_catalogue = line.startswith("## The catalogue")
                continue
            m = re.match(r"\| `([a-z0-9-]+)` \|", line)
            if in_catalogue and m:
                names.add(m.group(1))
    return names


def in_tests():
    base = os.path.join(ROOT, "tests", "providers")
    return {d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d))}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    places = {"the code": in_code(sys.argv[1]), "docs/providers.md": in_docs(), "tests/providers/": in_tests()}
    everyone = set().union(*places.values())
    ok = bool(everyone)
    for where, names in places.items():
        missing = sorted(everyone - names)
        if missing:
            ok = False
            print(f"providers missing from {where}: {', '.join(missing)}", file=sys.stderr)
    if not ok:
        sys.exit(1)
    print(f"providers: {len(everyone)} agree in the code, docs/providers.md and tests/providers/")


if __name__ == "__main__":
    main()
