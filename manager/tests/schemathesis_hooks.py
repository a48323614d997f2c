"""Schemathesis hooks for manager/tests/schemathesis.rs.

Around every request that may change something (any method but GET, and
the GETs the original project used for commands), read what a user can
see before and after. When the request was refused (a 4xx), the two must
be the same. Each such check adds a line to the file named by
POWPLAY_ST_LOG: "ok"; "busy" when something was mining, which moves the
tips by itself; or "changed <METHOD> <path> <status>: <what, before and after>".

POWPLAY_ST_BASE is the process's base URL, POWPLAY_ST_KIND `node` or
`manager` (which says what to read).
"""

import json
import os
import urllib.request

import schemathesis

BASE = os.environ["POWPLAY_ST_BASE"]
KIND = os.environ["POWPLAY_ST_KIND"]
LOG = os.environ["POWPLAY_ST_LOG"]
COMMAND_GETS = {"/mine", "/block/new", "/start/mining", "/stop/mining"}


def read(path):
    with urllib.request.urlopen(BASE + path, timeout=30) as response:
        return json.load(response)


def visible_state():
    """What a person set or stored, without the counters and rates that
    move by themselves."""
    if KIND == "node":
        status = read("/status")
        return {
            "tip": (status["height"], status["best_hash"]),
            "mining": status["mining"],
            "hashrate_limit": status["hashrate_limit"],
            "pending_entries": status["pending_entries"],
            "isolated": status["isolated"],
            "strategy": status["strategy"],
            "peers": sorted(p["address"] for p in status["peers"]),
            "links": sorted(
                (l["address"], json.dumps(l["conditions"], sort_keys=True))
                for l in read("/network/links")["links"]
            ),
        }
    # Not the heights: blocks keep spreading after an earlier command (a
    # heal, a restart) while later ones are refused. A node's own run
    # checks its chain, where nothing else moves it.
    nodes = read("/nodes")["nodes"]
    network = read("/network")
    return {
        "nodes": [
            (n["id"], n["state"], n["mining"], n["isolated"], n["hashrate_limit"])
            for n in nodes
        ],
        "topology": network["topology"],
        "links": [
            (l["a"], l["b"], json.dumps(l["conditions"], sort_keys=True)) for l in network["links"]
        ],
        "partition": network["partition"],
    }


def busy(state):
    """Mining moves the tips by itself: a check then proves nothing."""
    if KIND == "node":
        return state["mining"]
    return any(mining for (_, _, mining, _, _) in state["nodes"])


def may_change(case):
    return case.method.upper() != "GET" or case.operation.path in COMMAND_GETS


_before = {}


@schemathesis.hook
def before_call(context, case, kwargs):
    if may_change(case):
        _before[id(case)] = visible_state()


@schemathesis.hook
def after_call(context, case, response):
    before = _before.pop(id(case), None)
    if before is None or not 400 <= response.status_code < 500:
        return
    after = visible_state()
    with open(LOG, "a", encoding="utf-8") as log:
        if busy(before) or busy(after):
            log.write("busy\n")
        elif after == before:
            log.write("ok\n")
        else:
            changes = {
                key: (before[key], after[key]) for key in before if before[key] != after[key]
            }
            log.write(
                f"changed {case.method} {case.formatted_path} {response.status_code}: "
                f"{json.dumps(changes)}\n"
            )
