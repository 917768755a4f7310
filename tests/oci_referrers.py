"""Find a pack's signature referrer with plain HTTP, as the OCI distribution specification 1.1
describes it, with no code of provisioning's:

    python3 tests/oci_referrers.py HOST:PORT REPOSITORY TAG OUTDIR

Reads the manifest at TAG and its digest, asks the referrers API
(`GET /v2/<repository>/referrers/<digest>`) and, when the registry answers 404, the referrers
tag schema (`sha256-<hex>`, an image index); fetches the signature referrer's manifest (checked
against its digest, its `subject` against the pack's manifest) and its one layer, written to
OUTDIR under its title. Prints what it found as JSON.
"""

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
SIGNATURE = "application/vnd.dev.provisioning.signature.v1+minisign"


def get(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main() -> int:
    host, repository, tag, outdir = sys.argv[1:5]
    base = f"http://{host}/v2/{repository}"
    status, body = get(f"{base}/manifests/{tag}", MANIFEST)
    assert status == 200, f"manifest {tag}: {status}"
    subject = "sha256:" + hashlib.sha256(body).hexdigest()
    api_status, api_body = get(f"{base}/referrers/{subject}", INDEX)
    if api_status == 200:
        index, via = json.loads(api_body), "referrers API"
    else:
        fallback = "sha256-" + subject.split(":", 1)[1]
        status, index_body = get(f"{base}/manifests/{fallback}", INDEX)
        assert status == 200, f"the fallback tag {fallback}: {status}"
        index, via = json.loads(index_body), f"tag {fallback}"
    found = [m for m in index["manifests"] if m.get("artifactType") == SIGNATURE]
    assert len(found) == 1, f"signature referrers: {index}"
    status, referrer_body = get(f"{base}/manifests/{found[0]['digest']}", MANIFEST)
    assert status == 200
    assert "sha256:" + hashlib.sha256(referrer_body).hexdigest() == found[0]["digest"]
    referrer = json.loads(referrer_body)
    assert referrer["subject"]["digest"] == subject, referrer
    assert referrer["artifactType"] == SIGNATURE, referrer
    [layer] = referrer["layers"]
    status, blob = get(f"{base}/blobs/{layer['digest']}")
    assert status == 200
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]
    title = layer["annotations"]["org.opencontainers.image.title"]
    with open(os.path.join(outdir, title), "wb") as out:
        out.write(blob)
    print(
        json.dumps(
            {
                "referrers_api": api_status,
                "via": via,
                "layer_media_type": layer["mediaType"],
                "signer": referrer.get("annotations", {}).get("dev.provisioning.signer"),
                "file": title,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
