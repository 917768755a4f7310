"""python-tuf's reference client (`ngclient.Updater`) against one of our registries.

    tuf_client.py BASE_URL STATE_DIR [--bootstrap ROOT_JSON] TARGET...

Refreshes the metadata from `BASE_URL/tuf/` (following root rotations), keeping the trusted
state in STATE_DIR across runs, then downloads and verifies each TARGET (a path relative to
`distribution/`) from BASE_URL. Prints one JSON object: the trusted versions and, per target,
the sha256 of the verified bytes. Exits 1 with the error's type and text when TUF refuses.
"""

import hashlib
import json
import os
import sys

from tuf.ngclient import Updater


def main():
    base, state = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    bootstrap = None
    if rest[:1] == ["--bootstrap"]:
        with open(rest[1], "rb") as f:
            bootstrap = f.read()
        rest = rest[2:]
    os.makedirs(os.path.join(state, "targets"), exist_ok=True)
    try:
        updater = Updater(
            metadata_dir=state,
            metadata_base_url=base + "/tuf/",
            target_base_url=base + "/",
            target_dir=os.path.join(state, "targets"),
            bootstrap=bootstrap,
        )
        updater.refresh()
        downloaded = {}
        for target in rest:
            info = updater.get_targetinfo(target)
            if info is None:
                raise LookupError(f"{target} is not among the targets")
            path = updater.download_target(info)
            with open(path, "rb") as f:
                downloaded[target] = hashlib.sha256(f.read()).hexdigest()
    except Exception as error:  # the test shows what refused and why
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
    trusted = updater._trusted_set
    print(
        json.dumps(
            {
                "root": trusted.root.version,
                "timestamp": trusted.timestamp.version,
                "snapshot": trusted.snapshot.version,
                "targets": trusted.targets.version,
                "downloaded": downloaded,
            }
        )
    )


main()
