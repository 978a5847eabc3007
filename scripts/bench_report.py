#!/usr/bin/env python3
"""Turns criterion's estimates from `cargo bench -p yibao-tests --bench tokens` into the
ratio table of docs/PERFORMANCE.md. Ratios compare benchmarks of the same run, so a noisy
machine shifts both sides alike."""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"


groups = {
    "sign": [
        "ed25519-dalek raw sign",
        "yibao sign (encode + sign + digits)",
        "pasetors v4.public sign",
        "jsonwebtoken EdDSA sign",
    ],
    "verify": [
        "ed25519-dalek raw verify_strict",
        "yibao verify (parse + signature + policy)",
        "pasetors v4.public verify",
        "jsonwebtoken EdDSA verify",
    ],
    "parse": [
        "yibao parse only (digits + layout)",
        "yibao text encoding only (bytes to digits)",
    ],
    "qr": ["QR build (level M) + SVG render"],
}


def find(group, title):
    # criterion keeps the title in benchmark.json; match on it rather than guessing the
    # directory-name mangling
    for d in (root / group).iterdir():
        meta = d / "new" / "benchmark.json"
        if meta.exists() and json.loads(meta.read_text())["function_id"] == title:
            return json.loads((d / "new" / "estimates.json").read_text())["mean"]["point_estimate"]
    sys.exit(f"no result for {group}/{title}: run the benchmark first")


print("| group | benchmark | mean | ratio to the group's first line |")
print("|---|---|---|---|")
results = {}
for group, titles in groups.items():
    base = None
    for title in titles:
        ns = find(group, title)
        results[(group, title)] = ns
        base = base or ns
        shown = f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"
        print(f"| {group} | {title} | {shown} | {ns / base:.3f}× |")

v = lambda t: results[("verify", t)]
s = lambda t: results[("sign", t)]
print()
print(f"- yibao verify / raw verify_strict = {v('yibao verify (parse + signature + policy)') / v('ed25519-dalek raw verify_strict'):.3f} (goal ≤ 1.10)")
print(f"- yibao sign / raw sign = {s('yibao sign (encode + sign + digits)') / s('ed25519-dalek raw sign'):.3f} (goal ≤ 1.10)")
print(f"- pasetors verify / yibao verify = {v('pasetors v4.public verify') / v('yibao verify (parse + signature + policy)'):.2f}× (goal ≥ 1.4)")
print(f"- jsonwebtoken verify / yibao verify = {v('jsonwebtoken EdDSA verify') / v('yibao verify (parse + signature + policy)'):.2f}×")
