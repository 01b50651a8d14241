"""What patronguard's pattern recognizers share: the scanner's settings, the allow-list (the
library's own public contact details) and a one-line account of the validation they ran."""
from __future__ import annotations

from typing import Sequence

from presidio_analyzer import Pattern, PatternRecognizer

from ..settings import ScanSettings


class LibraryPatternRecognizer(PatternRecognizer):
    """A Presidio pattern recognizer that knows the library's settings.

    Subclasses override one validation hook (``validate_result`` or ``invalidate_result``) and say in
    ``validation`` what it checks (for the finding's explanation). ``confirms`` says whether the hook
    may return True (which lifts a match to score 1.0, context or not): the pre-filter needs to know.
    """

    validation: str = ""
    confirms: bool = False

    def __init__(self, supported_entity: str, patterns: Sequence[Pattern], context: Sequence[str],
                 settings: ScanSettings, name: str | None = None) -> None:
        self.settings = settings
        super().__init__(supported_entity=supported_entity, name=name, patterns=list(patterns),
                         context=list(context), supported_language="en")
