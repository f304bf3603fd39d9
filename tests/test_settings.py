"""Connection settings: stack config wins over the environment; errors name keys, never values."""

from __future__ import annotations

import pytest

from provider.core.errors import SettingsError
from provider.shoprenter.settings import ConnectionSettings, stack_config


def config(**values: str) -> dict[str, str]:
    return stack_config(values)


def test_oauth_defaults_follow_the_shop_name() -> None:
    settings = ConnectionSettings.resolve(
        config(shop="myshop", clientId="id", clientSecret="s3cret").get, {}
    )
    assert settings.auth == "oauth"
    assert settings.api_url == "https://myshop.api2.myshoprenter.hu/api"
    assert settings.token_url == "https://oauth.app.shoprenter.net/myshop/app/token"
    assert settings.requests_per_second == 3.0


def test_basic_auth_uses_the_legacy_host() -> None:
    settings = ConnectionSettings.resolve(
        config(shop="myshop").get, {"SHOPRENTER_USERNAME": "u", "SHOPRENTER_PASSWORD": "p"}
    )
    assert settings.auth == "basic"
    assert settings.api_url == "https://myshop.api.myshoprenter.hu"
    assert settings.token_url is None


def test_stack_config_wins_over_the_environment() -> None:
    environ = {
        "SHOPRENTER_SHOP": "envshop",
        "SHOPRENTER_CLIENT_ID": "env-id",
        "SHOPRENTER_CLIENT_SECRET": "env-secret",
    }
    settings = ConnectionSettings.resolve(config(shop="cfgshop", clientId="cfg-id").get, environ)
    assert settings.client_id == "cfg-id"
    assert settings.secret == "env-secret"
    assert "cfgshop" in settings.api_url


def test_secrets_never_show_in_repr() -> None:
    settings = ConnectionSettings.resolve(
        config(shop="s", clientId="the-id", clientSecret="the-secret").get, {}
    )
    assert "the-secret" not in repr(settings)
    assert "the-id" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "no Shoprenter credentials"),
        ({"shop": "s", "clientId": "id"}, "shoprenter:clientSecret"),
        ({"shop": "s", "username": "u"}, "shoprenter:password"),
        ({"clientId": "id", "clientSecret": "x"}, "shoprenter:shop"),
        (
            {"shop": "s", "clientId": "id", "clientSecret": "x", "apiUrl": "http://a.example"},
            "must use https",
        ),
        (
            {"shop": "s", "clientId": "i", "clientSecret": "x", "requestsPerSecond": "-1"},
            "positive",
        ),
    ],
)
def test_bad_settings_say_which_key_to_set(values: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        ConnectionSettings.resolve(config(**values).get, {})
    assert "x" not in str(caught.value).split() and "id" not in str(caught.value).split()


def test_loopback_http_is_allowed_for_the_simulator() -> None:
    settings = ConnectionSettings.resolve(
        config(
            clientId="id",
            clientSecret="s",
            apiUrl="http://127.0.0.1:8765/api/",
            tokenUrl="http://127.0.0.1:8765/demo/app/token",
        ).get,
        {},
    )
    assert settings.api_url == "http://127.0.0.1:8765/api"
