"""The settings and command-line pieces of the ADT surface: TLS files, endpoints, ``import --adt``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgtwin.settings import load_settings
from ontology.errors import ConfigurationInvalid
from tests.foundation.conftest import RunKgtwin
from tests.graph.adt_models import DOCS, ROOM, THERMOSTAT


def test_tls_files_come_together_and_must_exist(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    assert load_settings(tls_cert_file=cert, tls_key_file=key).tls
    assert not load_settings().tls
    with pytest.raises(ConfigurationInvalid, match="set together"):
        load_settings(tls_cert_file=cert)
    with pytest.raises(ConfigurationInvalid) as missing:
        load_settings(tls_cert_file=tmp_path / "none.pem", tls_key_file=key)
    assert missing.value.setting == "KGTWIN_TLS_CERT_FILE"


def test_endpoint_prefixes_are_plain_topics() -> None:
    assert load_settings(adt_endpoints={"hub": "plant/events"}).adt_endpoints == {"hub": "plant/events"}
    for bad in ("plant/#", "plant/+/x", "plant/", ""):
        with pytest.raises(ConfigurationInvalid, match="topic prefix"):
            load_settings(adt_endpoints={"hub": bad})


def test_import_adt_reads_an_adt_import_file(run_kgtwin: RunKgtwin, tmp_path: Path) -> None:
    lines = [
        {"Section": "Header"},
        {"fileVersion": "1.0.0", "author": "adt", "organization": "contoso"},
        {"Section": "Models"},
        *DOCS,
        {"Section": "Twins"},
        {
            "$dtId": "t-1",
            "$etag": 'W/"1"',
            "$metadata": {"$model": THERMOSTAT, "setpoint": {"lastUpdateTime": "2024-01-01T00:00:00Z"}},
            "setpoint": 20.0,
            "sensor": {"$metadata": {}, "offset": 1.0},
        },
        {"$dtId": "r-1", "$metadata": {"$model": ROOM}, "name": "Lab"},
        {"Section": "Relationships"},
        {
            "$dtId": "t-1",
            "$relationshipId": "c",
            "$relationshipName": "controls",
            "$targetId": "r-1",
            "$etag": "x",
        },
    ]
    (tmp_path / "adt.ndjson").write_text("\n".join(json.dumps(line) for line in lines))
    env = {"KGTWIN_GRAPH_URL": "falkordb:///data"}
    done = run_kgtwin("import", "adt.ndjson", "--adt", env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported 3 model(s), 2 twin(s), 1 relationship(s); 0 invalid line(s)" in done.stderr
    exported = run_kgtwin("export", env=env, timeout=120).stdout
    assert (
        '{"$dtId":"t-1","$metadata":{"$model":"dtmi:ex:adt:Thermostat;1"},"sensor":{"offset":1.0},"setpoint":20.0}'
        in exported
    )
