"""The uplink's settings: the URL and the site together, an external broker, refused otherwise."""

from __future__ import annotations

import pytest

from kgtwin.settings import load_settings
from ontology.errors import ConfigurationInvalid


def test_the_uplink_url_and_site_are_read_together() -> None:
    settings = load_settings(uplink_url="mqtts://edge:secret@cloud.example:8883", uplink_site="site-a")
    url = settings.uplink
    assert url is not None
    assert (url.host, url.port, url.user, url.password, url.tls) == (
        "cloud.example",
        8883,
        "edge",
        "secret",
        True,
    )
    assert settings.uplink_site == "site-a"
    assert load_settings().uplink is None  # off by default


def test_an_uplink_without_its_site_is_refused_naming_both_settings() -> None:
    with pytest.raises(ConfigurationInvalid) as caught:
        load_settings(uplink_url="mqtt://cloud:1883")
    assert "KGTWIN_UPLINK_URL" in str(caught.value)
    assert "KGTWIN_UPLINK_SITE" in str(caught.value)


def test_an_uplink_to_the_embedded_broker_is_refused() -> None:
    with pytest.raises(ConfigurationInvalid) as caught:
        load_settings(uplink_url="embedded", uplink_site="site-a")
    assert "KGTWIN_UPLINK_URL" in str(caught.value)
    assert "mqtt://" in str(caught.value)
