"""Rewrite a controller's own webhook and CRD manifests for host processes on 127.0.0.1.

Upstream manifests point the API server at a Service (kustomize and cert-manager fill in the
rest); here each controller runs on this machine, so every webhook gets a `url` on
127.0.0.1 and our CA's bundle, and only the webhooks the controller serves are kept (Kueue
ships one for every framework it can manage; a registered but unserved one with
failurePolicy Fail would refuse every object of that kind).

    render.py webhooks NAME PORT CA KEEP < list.json > out.json
    render.py crds PORT CA CONVERTED < list.json > out.json

Input: the manifests as kubectl prints them (`kubectl create --dry-run=client -o json -f
PATH`: one JSON value per file, an object or a List).
KEEP: a regular expression the webhook's path must match. CONVERTED: comma-separated CRD
names whose versions Kueue converts through its /convert endpoint. Standard library only.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path
from typing import Any

#: Upstream kustomize patches: these pod webhooks only ever concern the owner's pods.
POD_SELECTORS = {
    "jobset": {
        "matchExpressions": [{"key": "jobset.sigs.k8s.io/jobset-name", "operator": "Exists"}]
    },
}


def _client(port: str, ca: str, path: str) -> dict[str, Any]:
    return {"url": f"https://127.0.0.1:{port}{path}", "caBundle": ca}


def webhooks(items: list[dict[str, Any]], name: str, port: str, ca: str, keep: str) -> list[Any]:
    out = []
    for item in items:
        if not item["kind"].endswith("WebhookConfiguration"):
            continue
        item["metadata"] = {"name": f"{name}-{item['metadata']['name']}"}
        kept = []
        for hook in item.get("webhooks") or []:
            path = hook["clientConfig"]["service"]["path"]
            if not re.search(keep, path):
                continue
            hook["clientConfig"] = _client(port, ca, path)
            if path.endswith("-v1-pod") and name in POD_SELECTORS:
                hook["objectSelector"] = POD_SELECTORS[name]
            kept.append(hook)
        item["webhooks"] = kept
        out.append(item)
    return out


def crds(items: list[dict[str, Any]], port: str, ca: str, converted: str) -> list[Any]:
    names = set(filter(None, converted.split(",")))
    for item in items:
        if item["metadata"]["name"] in names:
            item["spec"]["conversion"] = {
                "strategy": "Webhook",
                "webhook": {
                    "clientConfig": _client(port, ca, "/convert"),
                    "conversionReviewVersions": ["v1"],
                },
            }
    return items


def read_objects(text: str) -> list[dict[str, Any]]:
    """Every object in kubectl's output: one JSON value per file it read, each an object or
    a List of them."""
    decoder, items, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        value, at = decoder.raw_decode(text, at)
        items += value.get("items", []) if value.get("kind") == "List" else [value]
    return items


def main() -> int:
    what, args = sys.argv[1], sys.argv[2:]
    items = read_objects(sys.stdin.read())
    if what == "webhooks":
        name, port, ca_path, keep = args
        ca = base64.b64encode(Path(ca_path).read_bytes()).decode()
        out = webhooks(items, name, port, ca, keep)
    else:
        port, ca_path, converted = args
        ca = base64.b64encode(Path(ca_path).read_bytes()).decode()
        out = crds(items, port, ca, converted)
    json.dump({"apiVersion": "v1", "kind": "List", "items": out}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
