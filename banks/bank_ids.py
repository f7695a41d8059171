"""What a bank id may be. Imports no app code, so models, services and API keys can all use it
without importing one another."""

from __future__ import annotations

import re

BANK_ID_RULES = "1-128 characters, no control characters or surrounding spaces."
BANK_ID_RE = re.compile(r"^[^\s/\\][^\x00-\x1f]{0,127}$")


class InvalidBankId(ValueError):
    """Not a usable bank id; the message says what one looks like."""


def validate_bank_id(bank_id: object) -> str:
    """``bank_id`` unchanged if it is a valid bank id, else ``InvalidBankId``."""
    if not isinstance(bank_id, str) or not BANK_ID_RE.match(bank_id) or bank_id != bank_id.strip():
        raise InvalidBankId(BANK_ID_RULES)
    return bank_id
