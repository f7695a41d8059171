"""The banks domain's exceptions. They carry no HTTP: each surface's exception handler maps
them (``operations.exceptions`` holds the base class and the engine's own)."""

from __future__ import annotations

from operations.exceptions import HindsightError


class BankNotFound(HindsightError):
    """An unknown bank, or one the caller may not see: the same answer for both."""

    code = "bank_not_found"

    def __init__(self, bank_id: str) -> None:
        self.bank_id = bank_id
        super().__init__(f"Bank '{bank_id}' not found")
