"""Language identification: one code system, a script-first decision rule, statistical backends, and the
user's corrections. See :mod:`core.data.langid.decide` for the rule and README "Languages" for its accuracy."""

from core.data.langid.codes import UND, language_from_path, language_label, language_name, normalize_code
from core.data.langid.decide import (GIVEN_SOURCES, SOURCE_GROUPS, Decision, LanguageIdentifier, assign_languages,
                                     default_identifier, detect, normalise_case, sentence_text, supported_languages,
                                     UndTally)

__all__ = ["UND", "GIVEN_SOURCES", "SOURCE_GROUPS", "Decision", "LanguageIdentifier", "assign_languages",
           "default_identifier", "detect", "language_from_path", "language_label", "language_name",
           "normalise_case", "normalize_code", "sentence_text", "supported_languages", "UndTally"]
