# managed by provision: changes here are overwritten by `provision apply`
"""One person's collections in Radicale's storage, read or written for `provision migrate`.

Run as the radicale user, holding Radicale's own lock on the storage (flock):

    python3 provision_radicale_storage.py read STORAGE USER    every collection of USER with its items,
                                                               as JSON on stdout
    python3 provision_radicale_storage.py write STORAGE USER   one collection from JSON on stdin; prints
                                                               how many items it wrote

Items travel base64-encoded and land byte for byte.
"""

import base64
import configparser
import json
import os
import sys

RADICALE_CONFIG = "/etc/radicale/config"


def read(root):
    found = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        props = os.path.join(root, name, ".Radicale.props")
        if not os.path.isfile(props):
            continue
        items = {}
        for href in sorted(os.listdir(os.path.join(root, name))):
            path = os.path.join(root, name, href)
            if not href.startswith(".") and os.path.isfile(path):
                with open(path, "rb") as item:
                    items[href] = base64.b64encode(item.read()).decode()
        with open(props, encoding="utf-8") as file:
            found.append({"name": name, "props": json.load(file), "items": items})
    json.dump(found, sys.stdout)


def save(path, text):
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(path + ".tmp", path)


def principal(root):
    """The person's predefined collections: Radicale makes them only for a principal it has not seen."""
    config = configparser.RawConfigParser()
    config.read(RADICALE_CONFIG)
    os.makedirs(root, 0o750)
    predefined = json.loads(config.get("storage", "predefined_collections", fallback="") or "{}")
    for name, props in predefined.items():
        os.mkdir(os.path.join(root, name), 0o750)
        save(os.path.join(root, name, ".Radicale.props"), json.dumps(props))


def write(root, job):
    if not os.path.isdir(root):
        principal(root)
    path = os.path.join(root, job["name"])
    os.makedirs(path, 0o750, exist_ok=True)
    props = os.path.join(path, ".Radicale.props")
    if not os.path.exists(props):
        save(props, json.dumps(job["props"]))
    for href, data in job["items"].items():
        target = os.path.join(path, href)
        with open(target + ".tmp", "wb") as out:
            out.write(base64.b64decode(data))
            out.flush()
            os.fsync(out.fileno())
        os.replace(target + ".tmp", target)
    print(len(job["items"]))


def main():
    action, storage, user = sys.argv[1:4]
    root = os.path.join(storage, "collection-root", user)
    if action == "read":
        read(root)
    elif action == "write":
        write(root, json.load(sys.stdin))
    else:
        sys.exit(f"provision_radicale_storage: read or write, not {action}")


if __name__ == "__main__":
    main()
