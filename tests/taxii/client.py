#!/usr/bin/env python3
"""Reads a live hotline station over TAXII 2.1 with OASIS's taxii2-client.

Usage: client.py DISCOVERY_URL USER TOKEN EXPECTED_OBJECTS

The station must hold one channel whose counterpart sent reports with
EXPECTED_OBJECTS STIX objects in all. Checks, in order: discovery and the
API root; the one collection (readable, not writable); every object read
in pages of 1000 following `more`/`next`; each object valid for OASIS's
stix2-validator; the manifest; a wrong password answered 401. Run by
crates/station/tests/taxii_client.rs; exits non-zero on the first failure.
"""
import sys

import requests
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages

PAGE = 1000


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    url, user, token, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

    server = Server(url, user=user, password=token)
    assert server.title, "discovery has a title"
    root = server.default
    assert root is not None and root in server.api_roots, "the default API root is listed"
    assert "application/taxii+json;version=2.1" in root.versions, root.versions
    collections = root.collections
    assert len(collections) == 1, [c.title for c in collections]
    coll = collections[0]
    assert coll.can_read and not coll.can_write, (coll.can_read, coll.can_write)
    print(f"discovery: {server.title!r}; API root {root.title!r}; collection {coll.id} {coll.title!r}")

    pages, objects = [], []
    for envelope in as_pages(coll.get_objects, per_request=PAGE):
        page = envelope.get("objects", [])
        pages.append(len(page))
        objects.extend(page)
    ids = [o["id"] for o in objects]
    assert len(objects) == expected, f"{len(objects)} objects, expected {expected}"
    assert len(set(ids)) == len(ids), "no object twice"
    full, rest = divmod(expected, PAGE)
    assert pages == [PAGE] * full + ([rest] if rest else []), pages
    print(f"objects: {len(objects)} in pages {pages} (more/next followed)")

    options = ValidationOptions(version="2.1", disabled=["all"])
    invalid = []
    for o in objects:
        result = validate_instance(o, options)
        if not result.is_valid:
            invalid.append((o["id"], [e.message for e in result.errors]))
    assert not invalid, f"{len(invalid)} objects invalid, first: {invalid[0]}"
    print(f"stix2-validator: all {len(objects)} objects valid")

    manifest = []
    for envelope in as_pages(coll.get_manifest, per_request=PAGE):
        manifest.extend(envelope.get("objects", []))
    assert [m["id"] for m in manifest] == ids, "the manifest lists the same objects in the same order"
    assert all(m["media_type"] == "application/stix+json;version=2.1" for m in manifest)
    print(f"manifest: {len(manifest)} records")

    try:
        Server(url, user=user, password=token + "x").refresh()
    except requests.exceptions.HTTPError as e:
        status = e.response.status_code
        assert status == 401, status
        assert e.response.headers.get("WWW-Authenticate", "").startswith("Basic"), e.response.headers
        print("wrong password: 401 with WWW-Authenticate: Basic")
    else:
        sys.exit("a wrong password was let in")
    print("taxii2-client: all checks passed")


if __name__ == "__main__":
    main()
