"""schemathesis hooks for tests/api/schemathesis.sh.

Half of the generated path parameters that name something are swapped for
things that exist on the station (the channel, a peer, an entry), so that
requests reach the handlers' rules and not only "not found". Two things are
spared whatever is generated: the user schemathesis acts as is never revoked
or rotated (it would be signed out for the rest of the run), and the peer
at the other end of the channel keeps its address (every request that waits
for delivery would wait its full time); `peer set` goes to a third peer.
And the counterpart accepts every channel proposed to it, as a person there
would: it holds at most 16 proposals pending, and a proposal past those is
not delivered, so opening a channel would wait its full 3 s every time.
"""

import json
import os
import re
import urllib.request

import schemathesis
from hypothesis import strategies as st

ACTING = os.environ["HOTLINE_ACTING_USER"]
PEER = os.environ["HOTLINE_PEER"]
SPARE_PEER = os.environ["HOTLINE_SPARE_PEER"]
COUNTERPART_API = os.environ["HOTLINE_COUNTERPART_API"]
COUNTERPART_TOKEN = os.environ["HOTLINE_COUNTERPART_TOKEN"]
# Path parameter -> what exists, by the route's first segment below /v1/.
EXISTING = {
    ("channels", "id"): os.environ["HOTLINE_CHANNEL"],
    ("peers", "name"): PEER,
    ("entries", "hash"): os.environ["HOTLINE_ENTRY"],
}
# Body fields that cite an entry: the counterpart's message and request.
CITED = {
    "of": os.environ["HOTLINE_ENTRY"],
    "request": os.environ["HOTLINE_REQUEST"],
    "reply_to": os.environ["HOTLINE_ENTRY"],
}


HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _resource(context):
    parts = context.operation.path.split("/")
    return parts[2] if len(parts) > 2 else ""


def _valid(name, value):
    """Whether a generated value is one the document allows: only those are
    swapped, so that a request meant to be invalid stays invalid."""
    if name in ("id", "hash"):
        return isinstance(value, str) and HEX64.fullmatch(value) is not None
    return isinstance(value, str)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    resource = _resource(context)
    swapped = dict(path_parameters)
    for name, value in path_parameters.items():
        if (resource, name) in EXISTING and _valid(name, value):
            swapped[name] = EXISTING[(resource, name)]
    return st.sampled_from([path_parameters, swapped])


@schemathesis.hook
def flatmap_body(context, body):
    if not isinstance(body, dict) or not any(k in body for k in CITED):
        return st.just(body)
    cited = {k: CITED.get(k, v) if isinstance(v, str) else v for k, v in body.items()}
    return st.sampled_from([body, cited])


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters or {}
    path = case.operation.path
    if path.startswith("/v1/users/") and params.get("name") == ACTING:
        params["name"] = ACTING + "-spared"
    if path == "/v1/peers/{name}/set" and params.get("name") == PEER:
        params["name"] = SPARE_PEER


@schemathesis.hook
def after_call(context, case, response):
    if case.operation.path != "/v1/channels" or case.method.upper() != "POST":
        return
    if response.status_code != 201:
        return
    channel = json.loads(response.content)["id"]
    accept = urllib.request.Request(
        f"{COUNTERPART_API}/v1/channels/{channel}/accept",
        method="POST",
        headers={"Authorization": f"Bearer {COUNTERPART_TOKEN}"},
    )
    # Accepting can be refused (the proposal was for another station, or not
    # delivered yet); the run goes on either way.
    try:
        urllib.request.urlopen(accept, timeout=10).close()
    except OSError:
        pass
