"""Authentication: API keys, OIDC bearer tokens checked against a real JWKS over HTTP, websockets.

The JWKS is served by a real HTTP server on a free loopback port, holding the public half
of an RSA key made in the test; tokens are signed with PyJWT, nothing of it is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.roles import Role
from graph.api_keys import ApiKeyStore
from graph.store import GraphStore
from kgtwin.settings import load_settings
from ontology.errors import ConfigurationInvalid
from tests.api.conftest_auth import AuthConfig, Limits, OidcConfig, app_client
from tests.foundation.conftest import KGTWIN
from tests.servers.process import free_port

pytest_plugins = ["tests.api.conftest_auth"]

ISSUER = "https://idp.example.test/realms/plant"
AUDIENCE = "kgtwin"
VERSION = "{ version }"


class Jwks:
    """A real JWKS endpoint on loopback and the private key its tokens are signed with."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        document = json.dumps(
            {"keys": [{**public, "kid": "test-key", "use": "sig", "alg": "RS256"}]}
        ).encode()
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def token(self, key: Any = None, kid: str = "test-key", algorithm: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, key or self.key, algorithm=algorithm, headers={"kid": kid})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    try:
        yield server
    finally:
        server.stop()


def oidc(jwks: Jwks, claim: str = "roles") -> AuthConfig:
    return AuthConfig(oidc=OidcConfig(ISSUER, AUDIENCE, jwks.url, roles_claim=claim))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- API keys -----------------------------------------------------------------------------------


def test_rest_without_credentials_is_401_problem_json(auth_graph: GraphStore) -> None:
    with app_client(auth_graph) as client:
        response = client.get("/models/evolution", params={"from": "dtmi:x:A;1", "to": "dtmi:x:A;2"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_graphql_without_credentials_is_401_with_a_graphql_error(auth_graph: GraphStore) -> None:
    with app_client(auth_graph) as client:
        response = client.post("/graphql", json={"query": VERSION})
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "credentials required" in error["message"]


def test_probes_and_the_graphiql_page_need_no_credentials(auth_graph: GraphStore) -> None:
    with app_client(auth_graph) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        page = client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "GraphiQL" in page.text
        # ... but a query sent as GET is not the page
        assert (
            client.get("/graphql", params={"query": VERSION}, headers={"Accept": "text/html"}).status_code
            == 401
        )


def test_an_api_key_works_as_header_or_bearer(auth_graph: GraphStore) -> None:
    secret = ApiKeyStore(auth_graph).create("dashboard", [Role.VIEWER]).secret
    with app_client(auth_graph) as client:
        for headers in ({"X-API-Key": secret}, bearer(secret)):
            response = client.post("/graphql", json={"query": VERSION}, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["data"] == {"version": "9.9.9"}


def test_unknown_and_revoked_keys_are_refused(auth_graph: GraphStore) -> None:
    store = ApiKeyStore(auth_graph)
    issued = store.create("old-job", [Role.ADMIN])
    with app_client(auth_graph) as client:
        assert (
            client.post("/graphql", json={"query": VERSION}, headers=bearer(issued.secret)).status_code == 200
        )
        made_up = client.post("/graphql", json={"query": VERSION}, headers=bearer(issued.secret + "x"))
        assert made_up.status_code == 401
        assert made_up.json()["errors"][0]["message"] == "unknown API key"
        store.revoke("old-job")
        revoked = client.post("/graphql", json={"query": VERSION}, headers=bearer(issued.secret))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["errors"][0]["message"]


def test_failed_authentications_are_throttled_per_client_good_ones_are_not(auth_graph: GraphStore) -> None:
    # Regression (issue 21, defect 8): keys could be tried at the API's full speed.
    good = ApiKeyStore(auth_graph).create("throttled-client", [Role.VIEWER]).secret
    limits = Limits(auth_failures_per_second=2.0, auth_failure_burst=5)
    with app_client(auth_graph, limits=limits) as client:

        def ask(secret: str) -> Any:
            return client.post("/graphql", json={"query": VERSION}, headers=bearer(secret))

        for _ in range(12):  # good keys spend nothing
            assert ask(good).status_code == 200
        assert [ask(good + "x").status_code for _ in range(5)] == [401] * 5
        refused = ask(good + "x")
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
        assert int(refused.headers["Retry-After"]) >= 1
        assert ask(good).status_code == 429  # refused unchecked, good or not, until a token is back
        rest = client.get("/models", headers=bearer(good + "x"))
        assert rest.status_code == 429
        assert rest.headers["content-type"].startswith("application/problem+json")
        time.sleep(0.6)  # one token back at 2 a second
        assert ask(good).status_code == 200


def test_a_malformed_authorization_header_is_401_not_500(auth_graph: GraphStore) -> None:
    with app_client(auth_graph) as client:
        for value in (
            "Basic dXNlcjpwdw==",
            "Bearer",
            "Bearer not.a.jwt",
            "Bearer \u00e9\u00e9".encode("latin-1"),
        ):
            response = client.get("/models/evolution", headers={"Authorization": value})
            assert response.status_code == 401, value


def test_without_auth_every_caller_is_the_local_admin(auth_graph: GraphStore) -> None:
    with app_client(auth_graph, auth=AuthConfig()) as client:
        response = client.post("/graphql", json={"query": 'mutation { deleteTwin(id: "nope") }'})
    # The permission check passed: the twin is what is missing.
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# -- OIDC bearer tokens -------------------------------------------------------------------------


def test_a_valid_token_maps_its_roles_claim(auth_graph: GraphStore, jwks: Jwks) -> None:
    with app_client(auth_graph, auth=oidc(jwks)) as client:
        ok = client.post(
            "/graphql", json={"query": VERSION}, headers=bearer(jwks.token(roles=["viewer", "x"]))
        )
        assert ok.status_code == 200, ok.text
        denied = client.post(
            "/graphql",
            json={"query": 'mutation { deleteTwin(id: "nope") }'},
            headers=bearer(jwks.token(roles=["viewer"])),
        )
    error = denied.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "oidc:alice" in error["message"]


def test_roles_may_come_from_a_nested_claim(auth_graph: GraphStore, jwks: Jwks) -> None:
    token = jwks.token(realm_access={"roles": ["offline_access", "operator"]})
    with app_client(auth_graph, auth=oidc(jwks, "realm_access.roles")) as client:
        response = client.post(
            "/graphql", json={"query": 'mutation { deleteTwin(id: "nope") }'}, headers=bearer(token)
        )
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        ("wrong audience", {"aud": "another-app"}),
        ("wrong issuer", {"iss": "https://evil.example.test"}),
        ("expired", {"exp": int(time.time()) - 3600}),
        ("no expiry", {"exp": None}),
    ],
)
def test_tokens_failing_a_claim_check_are_401(
    auth_graph: GraphStore, jwks: Jwks, case: str, claims: dict[str, Any]
) -> None:
    token = jwks.token(roles=["admin"], **{k: v for k, v in claims.items() if v is not None})
    if claims.get("exp", 0) is None:
        body = jwt.decode(token, options={"verify_signature": False})
        body.pop("exp")
        token = jwt.encode(body, jwks.key, algorithm="RS256", headers={"kid": "test-key"})
    with app_client(auth_graph, auth=oidc(jwks)) as client:
        response = client.post("/graphql", json={"query": VERSION}, headers=bearer(token))
    assert response.status_code == 401, case
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_tokens_not_signed_by_the_jwks_key_are_401(auth_graph: GraphStore, jwks: Jwks) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = [
        jwks.token(key=stranger, roles=["admin"]),  # right kid, wrong key
        jwks.token(key=stranger, kid="other", roles=["admin"]),  # a kid the JWKS lacks
        _hs256_with_public_key(jwks),  # algorithm confusion
    ]
    with app_client(auth_graph, auth=oidc(jwks)) as client:
        for token in forged:
            response = client.post("/graphql", json={"query": VERSION}, headers=bearer(token))
            assert response.status_code == 401, token


def _hs256_with_public_key(jwks: Jwks) -> str:
    """A token "signed" with HS256 using the public key as the secret (PyJWT will not make one)."""
    pem = jwks.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": now + 60, "roles": ["admin"]}
    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': 'test-key'})}.{part(body)}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_the_jwks_is_fetched_once_and_cached(auth_graph: GraphStore, jwks: Jwks) -> None:
    with app_client(auth_graph, auth=oidc(jwks)) as client:
        before = jwks.requests
        for _ in range(5):
            client.post("/graphql", json={"query": VERSION}, headers=bearer(jwks.token(roles=["viewer"])))
    assert jwks.requests - before == 1


def test_an_unreachable_jwks_is_503_not_500(auth_graph: GraphStore) -> None:
    auth = AuthConfig(oidc=OidcConfig(ISSUER, AUDIENCE, f"http://127.0.0.1:{free_port()}/certs"))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + 60}, key, "RS256", {"kid": "k"})
    with app_client(auth_graph, auth=auth) as client:
        response = client.get("/models/evolution", headers=bearer(token))
    assert response.status_code == 503
    assert response.json()["code"] == "BACKEND_UNAVAILABLE"


def test_api_keys_are_refused_when_only_oidc_is_on(auth_graph: GraphStore, jwks: Jwks) -> None:
    secret = ApiKeyStore(auth_graph).create("k", [Role.ADMIN]).secret
    with app_client(auth_graph, auth=oidc(jwks)) as client:
        response = client.post("/graphql", json={"query": VERSION}, headers={"X-API-Key": secret})
    assert response.status_code == 401


# -- websockets (subscriptions) -----------------------------------------------------------------


def _init(client: TestClient, payload: dict[str, Any] | None, **headers: str) -> dict[str, Any]:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"], headers=headers) as ws:
        ws.send_json({"type": "connection_init", "payload": payload or {}})
        answer: dict[str, Any] = ws.receive_json()
        return answer


def test_a_websocket_authenticates_in_connection_init(auth_graph: GraphStore) -> None:
    secret = ApiKeyStore(auth_graph).create("screen", [Role.VIEWER]).secret
    with app_client(auth_graph) as client:
        assert _init(client, {"Authorization": f"Bearer {secret}"})["type"] == "connection_ack"
        assert _init(client, {"apiKey": secret})["type"] == "connection_ack"
        assert _init(client, None, **{"X-API-Key": secret})["type"] == "connection_ack"


def test_a_websocket_without_valid_credentials_is_closed_4403(auth_graph: GraphStore) -> None:
    with app_client(auth_graph) as client:
        for payload in ({}, {"apiKey": "kgt_nope_nope"}):
            with pytest.raises(WebSocketDisconnect) as closed:
                _init(client, payload)
            assert closed.value.code == 4403
            assert closed.value.reason.startswith("UNAUTHENTICATED")


def test_a_subscription_runs_as_the_connection_init_principal(auth_graph: GraphStore) -> None:
    viewer = ApiKeyStore(auth_graph).create("screen", [Role.VIEWER]).secret
    with (
        app_client(auth_graph) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {"apiKey": viewer}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": VERSION}})
        answer = ws.receive_json()
    assert answer["type"] == "next"
    assert answer["payload"]["data"] == {"version": "9.9.9"}


# -- start-up -----------------------------------------------------------------------------------


def test_serving_beyond_loopback_without_auth_refuses_to_start(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    result = subprocess.run(
        [KGTWIN, "serve", "--host", "0.0.0.0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("kgtwin: KGTWIN_HOST: 0.0.0.0 is not a loopback address")
    assert not (tmp_path / "data").exists()  # refused before anything opened


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_may_run_without_auth(host: str) -> None:
    load_settings(host=host).check_exposure()


def test_any_other_address_is_fine_with_auth() -> None:
    load_settings(host="0.0.0.0", api_keys=True).check_exposure()
    load_settings(
        host="10.0.0.5", oidc_jwks_url="https://idp/certs", oidc_issuer="https://idp", oidc_audience="kgtwin"
    ).check_exposure()
    with pytest.raises(ConfigurationInvalid):
        load_settings(host="kgtwin.example.com").check_exposure()


def test_oidc_settings_come_together_or_not_at_all() -> None:
    with pytest.raises(ConfigurationInvalid, match="set together or not at all"):
        load_settings(oidc_jwks_url="https://idp/certs")


def test_settings_reach_the_api_as_auth_and_limits() -> None:
    from kgtwin.services import security

    auth, limits = security(
        load_settings(
            api_keys=True,
            oidc_jwks_url="https://idp/certs",
            oidc_issuer="https://idp",
            oidc_audience="kgtwin",
            oidc_roles_claim="realm_access.roles",
            rate_limit_per_second=5,
            graphql_max_depth=4,
        )
    )
    assert auth.api_keys
    assert auth.oidc == OidcConfig("https://idp", "kgtwin", "https://idp/certs", "realm_access.roles")
    assert (limits.rate_per_second, limits.graphql_max_depth) == (5, 4)
