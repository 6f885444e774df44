"""Who is calling the SLA API: an integrator's API key (`tf_<id>_<secret>` as
`Authorization: Bearer` or `X-Api-Key`, scoped to its accounts, as at intake) or another
ticketflow service with the internal token (`Authorization: Bearer`, every account)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from services.common.api_keys import ApiKey, bearer


class KeyVerifier(Protocol):
    async def authenticate(self, presented: str) -> ApiKey | None: ...


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str | None
    """The API key's id; None for the internal token."""
    accounts: frozenset[str] | None
    """The accounts the caller may read; None: every account."""

    @property
    def internal(self) -> bool:
        return self.key_id is None

    def may_read(self, account: str | None) -> bool:
        return self.accounts is None or (account is not None and account in self.accounts)


INTERNAL = Caller(key_id=None, accounts=None)


class Authenticator:
    def __init__(self, keys: KeyVerifier, internal_token: str) -> None:
        self._keys = keys
        self._internal = internal_token.encode()

    async def caller(self, headers: Mapping[str, str]) -> Caller | None:
        """The caller, None when no credential or an unknown one was sent (the key store's
        own error when it cannot tell)."""
        token = bearer(headers.get("authorization"))
        if token and self._internal and hmac.compare_digest(token.encode(), self._internal):
            return INTERNAL
        presented = bearer(headers.get("authorization"), headers.get("x-api-key"))
        if not presented:
            return None
        key = await self._keys.authenticate(presented)
        return None if key is None else Caller(key.id, key.accounts)
