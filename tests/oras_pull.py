"""Pull a pack with an independent OCI client (the `oras` Python SDK, from PyPI).

    python3 tests/oras_pull.py HOST:PORT REPOSITORY:TAG OUTDIR

Used by the integration tests to check that what `provisioning pack publish` pushes is a
standard OCI artifact that other tools read: the files land in OUTDIR under their titles.
"""

import sys

import oras.client


def main() -> int:
    host, target, outdir = sys.argv[1:4]
    client = oras.client.OrasClient(hostname=host, insecure=True)
    for path in client.pull(target=f"{host}/{target}", outdir=outdir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
