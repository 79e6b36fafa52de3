"""Microsoft's Node SDK (``@azure/digital-twins-core``) against ``kgtwin serve``: create, query, patch.

The package is installed by ``tests/servers/provision.sh`` (``npm ci`` of ``tests/adt/node``
into the test-server cache); ``NODE_EXTRA_CA_CERTS`` makes Node trust the test CA.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from tests.adt.conftest import AdtServer
from tests.conftest import unavailable

SCRIPT = Path(__file__).with_name("node") / "roundtrip.js"


def _node_modules() -> Path:
    cache = Path(os.environ.get("KGTWIN_TEST_SERVERS_CACHE", Path.home() / ".cache" / "kgtwin-test-servers"))
    found = cache / "adt-node" / "node_modules"
    if shutil.which("node") is None or not (found / "@azure" / "digital-twins-core").is_dir():
        unavailable(f"the Node ADT SDK is not installed at {found}: run make servers (needs Node 20 and npm)")
    return found


def test_the_node_sdk_creates_queries_and_patches_with_etags(serve_server: AdtServer) -> None:
    modules = _node_modules()
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "NODE_PATH": str(modules),
        "NODE_EXTRA_CA_CERTS": str(serve_server.ca),
        "ADT_ENDPOINT": serve_server.endpoint,
        "ADT_KEY": serve_server.admin_key,
        "ADT_SUFFIX": suffix,
    }
    done = subprocess.run(
        ["node", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    model, twin_id = f"dtmi:ex:node:Lamp{suffix};1", f"lamp-{suffix}"
    assert out["models"] == [model]
    assert out["created"]["dtId"] == twin_id
    assert out["created"]["model"] == model
    assert out["created"]["brightness"] == 0.5
    assert out["created"]["etag"].startswith('W/"')
    assert out["created"]["bodyEtag"] == out["created"]["etag"]
    assert out["query"] == [twin_id]
    assert out["afterPatch"] == {"brightness": 0.9, "etag": out["patchedEtag"]}
    assert out["patchedEtag"] != out["created"]["etag"]
    assert out["stale"] == {"status": 412, "code": "PreconditionFailed"}
    assert out["deleted"] == {"status": 404, "code": "DigitalTwinNotFound"}
