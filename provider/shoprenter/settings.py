"""Connection settings: which shop, which credentials, which URLs, how fast.

They are read inside the provider process (``WebhookProvider.configure``) from the stack
config namespace ``shoprenter``, falling back to ``SHOPRENTER_*`` environment variables, so
that no credential ever sits on the pickled provider or in the outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from ..core.errors import SettingsError
from ..core.rules import require_secure_url

CONFIG_NAMESPACE = "shoprenter"
DEFAULT_REQUESTS_PER_SECOND = 3.0
DEFAULT_TIMEOUT_SECONDS = 30.0

# Each setting: config key (under ``shoprenter:``) -> environment variable.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "shop": "SHOPRENTER_SHOP",
    "clientId": "SHOPRENTER_CLIENT_ID",
    "clientSecret": "SHOPRENTER_CLIENT_SECRET",
    "username": "SHOPRENTER_USERNAME",
    "password": "SHOPRENTER_PASSWORD",
    "apiUrl": "SHOPRENTER_API_URL",
    "tokenUrl": "SHOPRENTER_TOKEN_URL",
    "requestsPerSecond": "SHOPRENTER_REQUESTS_PER_SECOND",
    "timeoutSeconds": "SHOPRENTER_TIMEOUT_SECONDS",
}


# Each way to sign in: (id key, secret key), tried in this order.
CREDENTIAL_KEYS: dict[str, tuple[str, str]] = {
    "oauth": ("clientId", "clientSecret"),
    "basic": ("username", "password"),
}
SECRET_KEYS = frozenset(secret for _id, secret in CREDENTIAL_KEYS.values())


def stack_config(values: Mapping[str, str]) -> dict[str, str]:
    """``{"apiUrl": …}`` as the stack config keys ``{"shoprenter:apiUrl": …}``."""
    return {f"{CONFIG_NAMESPACE}:{key}": value for key, value in values.items()}


def _describe(key: str) -> str:
    return f"{CONFIG_NAMESPACE}:{key} (or {ENVIRONMENT_VARIABLES[key]})"


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the HTTP client needs to reach one shop.

    ``repr`` hides the secrets so that an error or a log line can never print them.
    """

    auth: Literal["oauth", "basic"]
    api_url: str
    token_url: Optional[str]
    client_id: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def credential_keys(self) -> str:
        """The settings a person must check when the shop rejects the credentials."""
        return _describe_pair(self.auth)

    @classmethod
    def resolve(
        cls, config_get: Callable[[str], Any], environ: Mapping[str, str]
    ) -> ConnectionSettings:
        """Build settings from stack config (keys ``shoprenter:<name>``), else the environment.

        ``config_get`` looks up a full config key, as ``pulumi.dynamic.Config.get`` does.
        """

        def get(key: str) -> str:
            value = config_get(f"{CONFIG_NAMESPACE}:{key}")
            if value is None or value == "":
                value = environ.get(ENVIRONMENT_VARIABLES[key], "")
            return str(value).strip()

        shop = get("shop")
        auth, user, secret = _credentials(get)
        api_url = get("apiUrl") or _default_api_url(auth, shop)
        token_url = (get("tokenUrl") or _default_token_url(shop)) if auth == "oauth" else None
        try:
            require_secure_url(api_url, _describe("apiUrl"))
            if token_url:
                require_secure_url(token_url, _describe("tokenUrl"))
        except ValueError as error:
            raise SettingsError(str(error)) from None
        return cls(
            auth=auth,
            api_url=api_url.rstrip("/"),
            token_url=token_url,
            client_id=user,
            secret=secret,
            requests_per_second=_positive_number(get("requestsPerSecond"), "requestsPerSecond")
            or DEFAULT_REQUESTS_PER_SECOND,
            timeout_seconds=_positive_number(get("timeoutSeconds"), "timeoutSeconds")
            or DEFAULT_TIMEOUT_SECONDS,
        )


def _describe_pair(auth: str) -> str:
    user_key, secret_key = CREDENTIAL_KEYS[auth]
    return f"{_describe(user_key)} and {_describe(secret_key)}"


def _credentials(get: Callable[[str], str]) -> tuple[Literal["oauth", "basic"], str, str]:
    """The first complete pair of credentials (OAuth, then legacy Basic), or a clear error."""
    for auth in ("oauth", "basic"):
        user_key, secret_key = CREDENTIAL_KEYS[auth]
        user, secret = get(user_key), get(secret_key)
        if user and secret:
            return auth, user, secret
        if user or secret:
            raise SettingsError(f"{auth} sign-in needs both {_describe_pair(auth)}")
    raise SettingsError(
        f"no Shoprenter credentials: set {_describe_pair('oauth')} (use `pulumi config set "
        f"--secret` for the secret), or the legacy {_describe_pair('basic')}"
    )


def _require_shop(shop: str, what: str) -> str:
    if not shop:
        raise SettingsError(f"set {_describe('shop')} (the shop's name), or {_describe(what)}")
    return shop


def _default_api_url(auth: str, shop: str) -> str:
    shop = _require_shop(shop, "apiUrl")
    if auth == "oauth":
        return f"https://{shop}.api2.myshoprenter.hu/api"
    return f"https://{shop}.api.myshoprenter.hu"


def _default_token_url(shop: str) -> str:
    return f"https://oauth.app.shoprenter.net/{_require_shop(shop, 'tokenUrl')}/app/token"


def _positive_number(text: str, key: str) -> Optional[float]:
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = 0.0
    if number <= 0:
        raise SettingsError(f"{_describe(key)} must be a positive number, got {text!r}")
    return number
