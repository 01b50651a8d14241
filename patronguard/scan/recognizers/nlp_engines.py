"""The NLP engine the analyzer runs with — never one that downloads anything.

By default a tokenizer only: spaCy's blank English pipeline (rules shipped inside the ``spacy``
package, no model) gives Presidio's context enhancer the tokens it looks for context words in;
Presidio's ``no_op`` engine gives none, so context words in the text would be ignored. A spaCy
model named in the settings is used only if it is installed (a package or a path); otherwise the
tokenizer is used and a warning says so.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Iterator

import spacy
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, SpacyNlpEngine

logger = logging.getLogger(__name__)


class TokenizerNlpEngine(NlpEngine):
    """Tokens and lower-cased words as lemmas, no entities, no model."""

    engine_name = "patronguard_tokenizer"
    is_available = True

    def __init__(self, languages: Iterable[str] = ("en",)) -> None:
        self.languages = list(languages)
        self.nlp: dict | None = None

    def load(self) -> None:
        self.nlp = {language: spacy.blank(language) for language in self.languages}

    def is_loaded(self) -> bool:
        return self.nlp is not None

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        if self.nlp is None:
            self.load()
        doc = self.nlp[language].make_doc(text)
        return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[t.idx for t in doc],
                            lemmas=[t.lower_ for t in doc], nlp_engine=self, language=language, scores=[])

    def process_batch(self, texts, language: str, batch_size: int = 1, n_process: int = 1,
                      as_tuples: bool = False, **kwargs) -> Iterator:
        for item in texts:
            if as_tuples:
                text, context = item
                yield text, self.process_text(str(text), language), context
            else:
                yield item, self.process_text(str(item), language)

    def is_stopword(self, word: str, language: str) -> bool:
        """No word is dropped: the recognizers' context words are chosen to be meaningful."""
        return False

    def is_punct(self, word: str, language: str) -> bool:
        return not any(c.isalnum() for c in word)

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return list(self.languages)


def model_installed(model: str) -> bool:
    return spacy.util.is_package(model) or Path(model).exists()


def build_nlp_engine(model: str | None) -> NlpEngine:
    """The configured installed spaCy model, else the tokenizer; loaded, never downloading."""
    if model and model_installed(model):
        engine: NlpEngine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
    else:
        if model:
            logger.warning("spaCy model %r is not installed; scanning with the tokenizer only "
                           "(regex and dictionary recognizers)", model)
        engine = TokenizerNlpEngine()
    engine.load()
    return engine
