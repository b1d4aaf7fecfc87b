#!/usr/bin/env python3
"""The reference STIX 2.1 validator's verdict on hotline's corpus of bundles.

Usage: crosscheck.py CASES_DIR

Prints one JSON object, {"<file name>": {"valid": bool, "errors": [str]}},
with the verdict of OASIS's stix2-validator (MUST rules only: the SHOULD
"best practice" checks are warnings there and do not decide validity). The
Rust test crates/core/tests/stix_crosscheck.rs runs this script and asserts
that hotline's own validator agrees on every case:

  valid-*.json     both accept it
  invalid-*.json   both refuse it
  stricter-*.json  the reference accepts it, hotline refuses it on purpose:
                   a reference to an object that is not in the bundle (the
                   reference does not resolve references), a created_by_ref
                   that names no identity (STIX 2.1 says it MUST; the
                   reference's schema checks only the identifier's form), an
                   object of another spec_version (hotline serves 2.1 only)

Exits non-zero when the reference's verdict does not match a case's name,
so that a change of the reference's behaviour is noticed too.
"""
import json
import pathlib
import sys

from stix2validator import ValidationOptions, validate_instance


def verdict(path):
    opts = ValidationOptions(version="2.1", disabled=["all"])
    try:
        instance = json.loads(path.read_text())
    except ValueError as e:
        return {"valid": False, "errors": [f"not JSON: {e}"]}
    result = validate_instance(instance, opts)
    return {"valid": result.is_valid, "errors": [e.message for e in result.errors]}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cases = sorted(pathlib.Path(sys.argv[1]).glob("*.json"))
    if not cases:
        sys.exit(f"no cases in {sys.argv[1]}")
    out = {p.name: verdict(p) for p in cases}
    print(json.dumps(out, indent=1, sort_keys=True))
    wrong = [
        name
        for name, v in out.items()
        if v["valid"] != (not name.startswith("invalid-"))
    ]
    for name in wrong:
        print(f"reference validator disagrees with the case's name: {name}: {out[name]}", file=sys.stderr)
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
