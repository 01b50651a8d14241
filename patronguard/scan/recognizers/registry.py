"""Load the recognizers from YAML (``defaults/recognizers.yaml``: Presidio's registry format) into a
Presidio ``RecognizerRegistry``: ``type: custom`` entries with a ``class_name`` become patronguard's
recognizers (their validation hooks), without one a plain ``PatternRecognizer``; ``type: predefined``
entries are Presidio's own classes by name. The library's settings and the known-patron dictionary
are handed to the classes that need them.

(Presidio's ``RecognizerRegistryProvider`` builds plain pattern recognizers only and cannot pass
run-time objects such as the dictionary, hence this loader; the file format is Presidio's.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.recognizer_registry.recognizers_loader_utils import RecognizerListLoader
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...datafiles import describe_validation_error, read_structured
from ...errors import InputError
from ..settings import ScanSettings, separated_number_regex
from .date_of_birth import DateOfBirthRecognizer
from .email import EmailAddressRecognizer
from .known_patron import KnownPatronRecognizer
from .library_card import LibraryCardRecognizer
from .patron_dictionary import PatronDictionary
from .pattern_base import LibraryPatternRecognizer
from .phone import UsPhoneRecognizer
from .street_address import UsStreetAddressRecognizer

DEFAULT_RECOGNIZERS_FILE = Path(__file__).parent.parent / "defaults" / "recognizers.yaml"
#: patronguard's recognizer classes, by the ``class_name`` the YAML gives
LIBRARY_RECOGNIZERS: dict[str, type[EntityRecognizer]] = {
    cls.__name__: cls for cls in (LibraryCardRecognizer, UsPhoneRecognizer, EmailAddressRecognizer,
                                  UsStreetAddressRecognizer, DateOfBirthRecognizer, KnownPatronRecognizer)}


class PatternEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(examples=["US phone number, formatted"])
    regex: str = Field(examples=[r"\d{3}-\d{3}-\d{4}"])
    score: float = Field(ge=0, le=1, examples=[0.6])


class RecognizerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(examples=["us_phone"])
    class_name: str | None = Field(default=None, examples=["UsPhoneRecognizer"])
    type: Literal["custom", "predefined"] = Field(default="custom", examples=["custom"])
    enabled: bool = True
    supported_language: Literal["en"] = "en"
    supported_entity: str | None = Field(default=None, examples=["PHONE_NUMBER"])
    supported_entities: list[str] | None = Field(default=None, examples=[["KNOWN_PATRON"]])
    context: list[str] = Field(default_factory=list, examples=[["phone"]])
    patterns: list[PatternEntry] = Field(default_factory=list)


class RecognizersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    supported_languages: list[Literal["en"]] = ["en"]
    recognizers: list[RecognizerEntry]


def read_recognizers_file(path: Path = DEFAULT_RECOGNIZERS_FILE) -> RecognizersFile:
    data, _raw = read_structured(path, InputError)
    try:
        return RecognizersFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(str(path), exc, RecognizersFile)) from None


def _build(entry: RecognizerEntry, settings: ScanSettings, dictionary: PatronDictionary) -> EntityRecognizer:
    context = entry.context + [w.lower() for e in (entry.supported_entities or [entry.supported_entity])
                               for w in settings.context_words.get(e, ())]
    if entry.type == "predefined":
        cls = RecognizerListLoader.get_existing_recognizer_cls(entry.class_name or entry.name)
        return cls(supported_language=entry.supported_language, context=context or None)
    card = separated_number_regex(settings.card_pattern)
    patterns = [Pattern(p.name, p.regex.replace("<<card>>", card), p.score) for p in entry.patterns]
    if entry.class_name is None:
        return PatternRecognizer(supported_entity=entry.supported_entity, name=entry.name, patterns=patterns,
                                 context=context)
    cls = LIBRARY_RECOGNIZERS.get(entry.class_name)
    if cls is None:
        raise InputError(f"recognizers file: {entry.name}.class_name: unknown recognizer class "
                         f"(expected one of {', '.join(sorted(LIBRARY_RECOGNIZERS))})")
    if cls is KnownPatronRecognizer:
        return KnownPatronRecognizer(dictionary, settings, context=context, name=entry.name,
                                     supported_entities=entry.supported_entities or [entry.supported_entity])
    extra = {"known_birth_dates": dictionary.birth_dates} if cls is DateOfBirthRecognizer else {}
    assert issubclass(cls, LibraryPatternRecognizer)
    return cls(supported_entity=entry.supported_entity, patterns=patterns, context=context, settings=settings,
               name=entry.name, **extra)


def build_registry(settings: ScanSettings, dictionary: PatronDictionary,
                   path: Path = DEFAULT_RECOGNIZERS_FILE) -> RecognizerRegistry:
    """A Presidio registry holding the recognizers of ``path``, ready for an offline analyzer."""
    conf = read_recognizers_file(path)
    recognizers = [_build(e, settings, dictionary) for e in conf.recognizers if e.enabled]
    return RecognizerRegistry(recognizers=recognizers, supported_languages=list(conf.supported_languages))
