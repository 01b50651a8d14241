"""patronguard's recognizers on Presidio's registry: one module per concept."""
from .date_of_birth import DateOfBirthRecognizer
from .email import EmailAddressRecognizer
from .known_patron import KnownPatronRecognizer
from .library_card import LibraryCardRecognizer
from .patron_dictionary import PatronDictionary
from .phone import UsPhoneRecognizer
from .street_address import UsStreetAddressRecognizer

__all__ = ["DateOfBirthRecognizer", "EmailAddressRecognizer", "KnownPatronRecognizer", "LibraryCardRecognizer",
           "PatronDictionary", "UsPhoneRecognizer", "UsStreetAddressRecognizer"]
