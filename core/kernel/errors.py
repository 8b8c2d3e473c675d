"""Coded problems and exceptions shared by every part of the studio.

Every problem a user can cause carries a stable code (``E1xx`` corpus errors, ``W1xx`` corpus warnings,
``E2xx`` configuration errors, ``E3xx`` training/run errors), the place it was found (file and 1-based line)
the offending text, and how to fix it. Readers *collect* problems in a :class:`Report` instead of stopping at
the first one (the spaCy ``debug data`` model: fail / warn / good sections), so a bad line never loses the
good sentences around it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable

ERROR = "error"
WARNING = "warning"

# Catalogue of codes: code -> (short title, default fix). Messages add the specifics.
CODES: dict[str, tuple[str, str]] = {
    # corpus errors
    "E101": ("file cannot be read", "Check the path and the file permissions."),
    "E102": ("unknown or undetectable format", "Pass --format with one of: conll, conllu, jsonl, json, csv, "
             "tsv, parquet, doccano, labelstudio, spacy, spans, brat, table, harem, inline."),
    "E103": ("wrong number of columns", "Every token line needs the token and the tag column; fix the line or "
             "choose the columns with --token-col/--tag-col."),
    "E104": ("invalid tag", "Tags look like O, B-TYPE, I-TYPE (IOB2), E-/S- (IOBES), L-/U- (BILOU), M- (BMES) "
             "or a bare TYPE (IO)."),
    "E105": ("malformed JSON", "Each line of a JSON Lines file must be one JSON object."),
    "E106": ("missing field", "Add the field, or choose the field names in the upload options."),
    "E107": ("tokens and tags differ in length", "Give exactly one tag per token."),
    "E108": ("span offsets out of range", "start and end must satisfy 0 <= start < end <= len(text)."),
    "E109": ("span does not fall on word boundaries",
             "Move the span's start/end to word boundaries, or check the offset unit (characters vs UTF-8 bytes)."),
    "E110": ("span text mismatch", "The span's stored text differs from text[start:end]: check the offset unit."),
    "E111": ("unsupported format feature", "This feature of the format cannot be represented as flat NER tags."),
    "E112": ("label id out of range", "Integer ner_tags need a label list (label_list / features) covering every id."),
    "E113": ("empty file", "The file holds no sentences."),
    "E114": ("invalid BRAT annotation", "T lines look like 'T1<TAB>TYPE START END<TAB>text'."),
    "E115": ("bad CoNLL-U line", "CoNLL-U token lines have 10 TAB-separated fields."),
    # corpus warnings
    "W101": ("encoding fallback", "Save the file as UTF-8 to silence this warning."),
    "W102": ("stray I- repaired", "An I- tag that starts an entity was read as B- (IOB2 repair)."),
    "W103": ("overlapping or nested spans", "Only one level is kept: the longest span wins, then the first."),
    "W104": ("discontinuous span", "A discontinuous span is replaced by its first fragment."),
    "W105": ("label with few examples", "Annotate more examples of this type or merge it with another."),
    "W106": ("label only in dev/test", "The model cannot learn a type absent from training data."),
    "W107": ("sentence repeated across splits", "Remove the copy from one split, or the test score leaks."),
    "W108": ("sentence longer than the model window",
             "It is split into overlapping windows (stride) for training and prediction; nothing is truncated."),
    "W109": ("empty token", "Empty tokens are kept, but most tokenizers give them no subword."),
    "W110": ("language undetermined", "Set the language with --lang or a lang field."),
    "W111": ("invalid scheme transition", "The tag sequence breaks the scheme's rules; it was repaired."),
    "W112": ("skipped line", "The line was skipped; the rest of the file was read."),
    "W113": ("duplicate sentence", "The same sentence occurs more than once in a split."),
    "W114": ("mixed schemes", "Files in one corpus use different tagging schemes; all were converted to IOB2."),
    "W120": ("non-entity labels read as O", "Labels such as [SEP], [PAD], X or -100 mark tokenizer or loss "
             "positions, not entities; they were read as O as asked."),
    "W115": ("ambiguous or incomplete annotation",
             "The first alternative or category was kept and entities without a category were dropped; resolve "
             "the ambiguity in the file to choose otherwise."),
    # reading rules (hostile input, offsets, inline markup, invalid bytes)
    "E130": ("not a text corpus", "The file is binary (an image, archive, executable, ...): choose the corpus file "
             "itself, saved as text."),
    "E131": ("file too large", "Split the file, or read it with `python -m core inspect`, which streams CoNLL files."),
    "E132": ("JSON nested too deeply", "NER records nest a few levels only; check that this is the right file."),
    "E133": ("reader failed", "The reader met something it does not handle; the other files were read. Please "
             "report the file's shape."),
    "E134": ("inline markup error", "Tags look like [TYPE]text[/TYPE] or <TYPE>text</TYPE>, opened and closed on "
             "one line."),
    "W130": ("invalid UTF-8 bytes replaced", "The bytes were replaced by U+FFFD on this line only; save the file "
             "as UTF-8 to keep the characters."),
    "W131": ("empty span dropped", "A span holding only whitespace (or nothing) marks no word; it was dropped."),
    "W132": ("offset unit detected", "Set the offset unit (char, byte, utf16) to silence this warning."),
    # configuration errors
    "E201": ("unknown configuration key", "Remove the key or fix its spelling."),
    "E202": ("invalid configuration value", "Use a value in the documented range."),
    "E203": ("model not available", "Use a bundled model name or a local folder."),
    "E204": ("language-id backend not available", "Install the project's dependencies (pyproject.toml)."),
    # run errors
    "E301": ("run not found", "List runs with `python -m core runs`."),
    "E302": ("training failed", "See the log tail."),
    "E303": ("out of memory", "Lower per_device_train_batch_size or max_seq_length, or raise "
             "gradient_accumulation_steps."),
    "E304": ("loss is not a number", "Lower learning_rate, raise warmup_ratio, or use fp32 precision."),
    "E305": ("run is in the wrong state for this action",
             "Stop an active run before deleting it; only STOPPED or FAILED runs can be resumed."),
    "E306": ("worker could not be started", "Check the Python executable and that the workspace is writable; "
             "see the run's train.log."),
    "E307": ("worker process lost", "The training process ended without reporting (killed, out of system "
             "memory, or crashed): read the log tail, then resume the run."),
    "E308": ("run store unusable", "NER_STUDIO_WORKSPACE must be a writable folder on a local disk "
             "(SQLite WAL mode does not work on network file systems)."),
    "E309": ("dataset not found", "List the datasets saved in the workspace and pick one of their ids."),
    "E310": ("dataset id already exists", "Choose another id, or leave it out to get a fresh one."),
    # safety and integrity (server paths, run store, disk, unexpected errors)
    "E320": ("server path refused", "Give a regular file (or a folder of them) inside one of the allowed roots "
             "(NER_STUDIO_DATA_ROOTS, default the workspace's imports/ folder), or upload the files instead."),
    "E321": ("run store damaged", "Repair the run store: the damaged file is moved aside, a new one is created and "
             "the runs on disk are registered again (`python -m core repair-store`, or the button on any page)."),
    "E322": ("disk full", "Free space on the disk that holds the workspace (delete old runs or checkpoints), "
             "then resume the run."),
    "E323": ("unexpected error", "The traceback was written to the workspace log (logs/app.log); report it "
             "with that file."),
    "E324": ("checkpoint damaged", "Resume falls back to the previous checkpoint by itself; when both are damaged, "
             "start again from step 0 or from the run's best model folder."),
    "E325": ("checkpoint from an earlier design", "Start a new run with the same settings; the model folder the "
             "run saved so far still predicts and scores."),
    # deployment: ONNX export, the prediction service, the Hub
    "E601": ("export failed", "Install the extra: pip install 'multilingual-ner-studio[onnx]'; see the message."),
    "E602": ("int8 quantization refused",
             "Keep the fp32 ONNX model (already written), or raise --max-f1-drop if the loss is acceptable."),
    "E603": ("no data to check the export", "Pass --data with annotated test sentences (or export a run that "
             "has a test or dev set)."),
    "E604": ("model hub unreachable", "Connect to the internet (the Hub is https://huggingface.co), or copy the "
             "folder by hand; HF_HUB_OFFLINE must not be set."),
    "E605": ("push rejected by the hub", "Check the token (HF_TOKEN or --token) and that you may write to the repo."),
    "E606": ("bad request", "Send JSON {\"text\": ...} or {\"tokens\": [...]} (see /docs)."),
    "E607": ("unauthorized", "Send the header 'Authorization: Bearer <token>' with the service's token."),
}


@dataclass
class Problem:
    """One problem found in user input.

    Attributes:
        code: stable code from :data:`CODES` (``E...`` errors, ``W...`` warnings).
        severity: ``"error"`` or ``"warning"``.
        message: what is wrong, with the specifics.
        file: the file it was found in ('' when not tied to a file).
        line: 1-based line number (0 when unknown or not line based).
        text: the offending text, as found (truncated to 200 characters).
        fix: how to fix it.
    """

    code: str
    severity: str
    message: str
    file: str = ""
    line: int = 0
    text: str = ""
    fix: str = ""

    def __post_init__(self) -> None:
        if not self.fix and self.code in CODES:
            self.fix = CODES[self.code][1]
        if len(self.text) > 200:
            self.text = self.text[:197] + "..."

    def to_dict(self) -> dict:
        """Plain dict with keys code, file, line, message, text, fix, severity."""
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f" [{self.text!r}]" if self.text else ""
        head = f"[{self.code}] {where}: " if where else f"[{self.code}] "
        return f"{head}{self.message}{text}. {self.fix}".strip()


@dataclass
class Report:
    """Collected problems of one load, plus repair counters.

    Errors and warnings are kept in the order found. ``repairs`` counts silent-but-reported repairs by code
    (for instance ``W102`` stray ``I-`` starts) so that a corpus with 2,000 repairs gives one warning line with
    a count, not 2,000 lines.
    """

    problems: list[Problem] = field(default_factory=list)
    max_per_code: int = 50
    _counts: dict[str, int] = field(default_factory=dict)
    # (file, line, code) of every error with a line, beyond max_per_code too: which sentences hold errors.
    # A streamed read keeps no sentences and sets keep_locations=False (memory bounded by max_per_code).
    error_locations: list[tuple[str, int, str]] = field(default_factory=list)
    keep_locations: bool = True

    def add(self, code: str, message: str, *, file: str = "", line: int = 0, text: str = "", fix: str = "",
            severity: str | None = None) -> None:
        """Record a problem. Beyond ``max_per_code`` problems of one code only the count grows."""
        sev = severity or (ERROR if code.startswith("E") else WARNING)
        if sev == ERROR and line and self.keep_locations:
            self.error_locations.append((file, line, code))
        self._counts[code] = self._counts.get(code, 0) + 1
        if self._counts[code] <= self.max_per_code:
            self.problems.append(Problem(code, sev, message, file, line, text, fix))

    def extend(self, other: "Report") -> None:
        """Append another report's problems and counts."""
        for p in other.problems:
            self.problems.append(p)
        self.error_locations.extend(other.error_locations)
        for k, v in other._counts.items():
            self._counts[k] = self._counts.get(k, 0) + v

    def discard(self, code: str) -> None:
        """Remove every problem of ``code`` and its count (a check that is about to be made again)."""
        self.problems = [p for p in self.problems if p.code != code]
        self._counts.pop(code, None)

    def count(self, code: str) -> int:
        """How many problems of ``code`` were found (including those beyond ``max_per_code``)."""
        return self._counts.get(code, 0)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def truncated(self) -> dict[str, int]:
        """Codes whose problems were not all listed: code -> number left out."""
        return {k: v - self.max_per_code for k, v in self._counts.items() if v > self.max_per_code}


class StudioError(Exception):
    """Base of the studio's coded exceptions. ``str(e)`` gives ``[CODE] message. fix``."""

    def __init__(self, code: str, message: str, *, file: str = "", line: int = 0, text: str = "",
                 fix: str = "") -> None:
        self.problem = Problem(code, ERROR, message, file, line, text, fix)
        super().__init__(str(self.problem))

    @property
    def code(self) -> str:
        return self.problem.code


class CorpusError(StudioError):
    """A corpus cannot be read at all (the file is missing, empty or of an unknown format)."""


class ConfigError(StudioError):
    """A configuration value or key is invalid."""


class RunError(StudioError):
    """A run cannot be found, started, stopped or resumed."""


class DeployError(StudioError):
    """An export, push or service request that cannot be done (``E6xx``)."""


def format_problems(problems: Iterable[Problem]) -> str:
    """One problem a line, for terminals and logs."""
    return "\n".join(str(p) for p in problems)
