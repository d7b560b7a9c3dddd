#!/usr/bin/env python3
"""A flame graph (SVG) from `perf script` output, with the top functions as text.

    perf script -i perf.data | python3 bench/flamegraph.py --title T --svg out.svg --top out.txt

Stacks are folded (root first) and drawn as boxes whose width is their share of the
samples; a box's colour only separates neighbours. --top writes the functions with the
most samples on-CPU (self) and with them on the stack (total), and each thread's share,
in percent.
"""
import argparse
import collections
import html
import re
import sys

FRAME = re.compile(r"^\s*[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$")


def fold(lines):
    """Counter of stacks (tuples, root first) from perf script's text."""
    stacks, cur, comm = collections.Counter(), [], None
    for line in lines:
        if not line.strip():
            if comm is not None:
                stacks[tuple([comm] + cur[::-1])] += 1
            cur, comm = [], None
            continue
        if comm is None and not line.startswith((" ", "\t")):
            comm = line.split()[0]
            continue
        m = FRAME.match(line)
        if m:
            sym, dso = m.group(1), m.group(2)
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            if sym == "[unknown]":
                sym = "[%s]" % dso.rsplit("/", 1)[-1]
            cur.append(sym)
    if comm is not None:
        stacks[tuple([comm] + cur[::-1])] += 1
    return stacks


def tree(stacks):
    root = {"n": 0, "kids": {}}
    for stack, n in stacks.items():
        node = root
        node["n"] += n
        for f in stack:
            node = node["kids"].setdefault(f, {"n": 0, "kids": {}})
            node["n"] += n
    return root


def svg(root, title, width=1200, row=16):
    total = root["n"] or 1
    boxes, depth_max = [], [0]

    def walk(node, x, depth):
        for name, kid in sorted(node["kids"].items()):
            w = kid["n"] / total * width
            if w >= 0.3:
                boxes.append((x, depth, w, name, kid["n"]))
                depth_max[0] = max(depth_max[0], depth)
                walk(kid, x, depth + 1)
            x += w

    walk(root, 0.0, 0)
    height = (depth_max[0] + 3) * row
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" '
           f'font-size="11"><rect width="100%" height="100%" fill="#fff"/>',
           f'<text x="4" y="{row - 3}">{html.escape(title)} ({total} samples; width = share of CPU samples, '
           f'root at the bottom)</text>']
    for x, depth, w, name, n in boxes:
        y = height - (depth + 1) * row
        hue = (hash(name) % 40) + 10
        label = html.escape(name)
        chars = int(w / 7)
        text = label if len(name) <= chars else (html.escape(name[:chars - 2]) + ".." if chars > 3 else "")
        out.append(f'<g><title>{label} ({n} samples, {n / total * 100:.1f}%)</title>'
                   f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" fill="hsl({hue},90%,60%)"/>'
                   f'<text x="{x + 2:.1f}" y="{y + row - 4}">{text}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def top(stacks, n=25):
    total = sum(stacks.values()) or 1
    self_, incl = collections.Counter(), collections.Counter()
    for stack, c in stacks.items():
        self_[stack[-1]] += c
        for f in set(stack[1:]):
            incl[f] += c
    threads = collections.Counter()
    for stack, c in stacks.items():
        threads[stack[0]] += c
    lines = [f"{total} samples", "", "share%  thread"]
    lines += [f"{c / total * 100:5.1f}   {t}" for t, c in threads.most_common(12)]
    lines += ["", "self%   function"]
    lines += [f"{c / total * 100:5.1f}   {f}" for f, c in self_.most_common(n)]
    lines += ["", "total%  function (on the stack)"]
    lines += [f"{c / total * 100:5.1f}   {f}" for f, c in incl.most_common(n)]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--title", default="flame graph")
    p.add_argument("--svg", required=True)
    p.add_argument("--top")
    a = p.parse_args()
    stacks = fold(sys.stdin)
    with open(a.svg, "w") as f:
        f.write(svg(tree(stacks), a.title))
    if a.top:
        with open(a.top, "w") as f:
            f.write(top(stacks))


if __name__ == "__main__":
    main()
