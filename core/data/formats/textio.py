"""Bytes to text: binary files refused, the encoding decided per line, size limits, streamed lines.

Rules (every one decided from the file's content, never from one line for the whole file):

* **Binary files are no corpus** (E130): a known magic number at the start (PNG, JPEG, GIF, PDF, ZIP and the
  formats built on it, gzip, bzip2, xz, 7z, ELF, SQLite, pickle, NumPy, Parquet when another format is asked
  for), NUL bytes making more than 0.1% of the first 64 KiB (one stray NUL in a line does not spoil a text
  file; a UTF-16 file without a byte order mark is recognised by its NUL pattern and decoded instead), or more
  than 5% C0 control characters other than TAB, LF, CR, FF and VT.
* **Encoding, per line.** A UTF-8 byte order mark at the start is removed (``U+FEFF`` elsewhere is kept: it
  can sit inside a token); a UTF-16 BOM selects UTF-16. Otherwise the file is UTF-8, and a line holding
  invalid UTF-8 bytes gets them replaced by U+FFFD and one W130 with file:line, the other lines unchanged.
  Only a file that is *mostly* not UTF-8 -- more than half of its lines holding non-ASCII bytes are invalid
  UTF-8 -- is decoded as cp1252 (the Windows superset of Latin-1 that "Latin-1" corpora such as conll2003_de
  and HAREM really use; Latin-1 for the five bytes cp1252 leaves undefined), with one W101. Counting only
  non-ASCII lines matters: in a Latin-1 German file 97% of the lines are plain ASCII, hence valid UTF-8.
* **Size.** A file read into memory may be at most :data:`MAX_FILE_BYTES` (E131); :func:`iter_lines` streams a
  file of any size in blocks of :data:`BLOCK_BYTES` and applies the same per-line rule to each block.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Iterator

from core.kernel.errors import CorpusError, Report

MAX_FILE_BYTES = 1 << 30  # 1 GiB: a file read into memory becomes several times that in Python objects
BLOCK_BYTES = 1 << 22  # 4 MiB blocks for streamed reading
HEAD_BYTES = 1 << 16
CONTROL_SHARE = 0.05
NUL_SHARE = 0.001  # a stray NUL in one line of a text file does not make it binary; binary formats are full of them

# magic number -> what it is (checked at offset 0)
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"%PDF-", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or docx/xlsx)"),
    (b"PK\x05\x06", "an empty ZIP archive"), (b"\x1f\x8b", "a gzip archive"), (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"), (b"7z\xbc\xaf\x27\x1c", "a 7z archive"), (b"\x7fELF", "an executable"),
    (b"SQLite format 3\x00", "an SQLite database"), (b"\x93NUMPY", "a NumPy array"), (b"PAR1", "a Parquet file"),
    (b"RIFF", "a RIFF media file"), (b"OggS", "an Ogg media file"), (b"ID3", "an MP3 file"),
    (b"\x80\x04\x95", "a Python pickle"), (b"\x80\x05\x95", "a Python pickle"), (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"), (b"\x00asm", "a WebAssembly module"), (b"\xca\xfe\xba\xbe", "a Java class file"),
)
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13)) + b"\x7f"


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes cp1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) decode as Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error("nerstudio-latin1", _latin1_fallback)


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when the NUL bytes sit at every other position like UTF-16 text, else None."""
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    for codec, zeros in (("utf-16-le", odd), ("utf-16-be", even)):
        if zeros.count(0) >= 0.4 * len(zeros):
            try:
                head[: len(head) // 2 * 2].decode(codec)
            except UnicodeDecodeError:
                continue
            return codec
    return None


def binary_kind(head: bytes, allow: tuple[str, ...] = ()) -> str | None:
    """What a file is when it is not text, from its first bytes; None for text.

    Args:
        head: the first bytes of the file (64 KiB is enough).
        allow: kinds not to refuse (``"a Parquet file"`` for the parquet reader).

    Returns:
        A description such as ``"a PNG image"``, ``"binary data (NUL bytes)"``, or None.
    """
    for magic, kind in MAGIC:
        if head.startswith(magic) and kind not in allow:
            if magic == b"BZh" and not (len(head) > 3 and head[3:4].isdigit()):
                continue
            return kind
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    n_nul = head.count(0)
    if n_nul > max(2, NUL_SHARE * len(head)) and _utf16_without_bom(head) is None:
        return f"binary data ({n_nul} NUL bytes)"
    if head:
        n_control = len(head) - len(head.translate(None, _CONTROL))
        if n_control > CONTROL_SHARE * len(head) and _utf16_without_bom(head) is None:
            return f"binary data ({n_control / len(head):.0%} control characters)"
    return None


def check_text(path: str, head: bytes) -> None:
    """Raise E130 when ``head`` (a file's first bytes) is not text (rules in the module docstring)."""
    kind = binary_kind(head)
    if kind is not None:
        raise CorpusError("E130", f"this is {kind}, not a text corpus", file=path, text=repr(head[:16])[2:-1])


def decode_block(data: bytes, path: str, report: Report, first_line: int = 1,
                 mode: str | None = None) -> tuple[str, str]:
    """Decode a block of whole lines by the per-line rule of the module docstring.

    Args:
        data: bytes ending at a line end (or the end of the file).
        path: the file, for problems.
        report: receives W101 (the block was read as cp1252) or W130 (one per line with invalid bytes).
        first_line: the 1-based line number of the block's first line.
        mode: ``"cp1252"`` once a file was found mostly not UTF-8 (later blocks follow it); None otherwise.

    Returns:
        ``(text, mode)``: the decoded text (line ends untouched) and the mode for the next block.
    """
    if mode != "cp1252":
        try:
            return data.decode("utf-8"), mode or "utf-8"
        except UnicodeDecodeError:
            pass
    lines = data.split(b"\n")
    bad: list[int] = []
    nonascii = 0
    if mode != "cp1252":
        for i, ln in enumerate(lines):
            if not ln.isascii():
                nonascii += 1
                try:
                    ln.decode("utf-8")
                except UnicodeDecodeError:
                    bad.append(i)
        if 2 * len(bad) <= nonascii:  # mostly UTF-8: replace the bad bytes of the bad lines only
            out = []
            bad_set = set(bad)
            for i, ln in enumerate(lines):
                if i in bad_set:
                    txt = ln.decode("utf-8", errors="replace")
                    report.add("W130", "invalid UTF-8 byte(s) replaced by U+FFFD on this line (the rest of the "
                               "file is UTF-8)", file=path, line=first_line + i, text=txt.rstrip("\r"))
                    out.append(txt)
                else:
                    out.append(ln.decode("utf-8"))
            return "\n".join(out), "utf-8"
        report.add("W101", f"{len(bad)} of the {nonascii} lines with non-ASCII bytes are not valid UTF-8 (first on "
                   f"line {first_line + bad[0]}); the file was read as cp1252/Latin-1", file=path,
                   line=first_line + bad[0],
                   text=lines[bad[0]].decode("cp1252", errors="nerstudio-latin1").rstrip("\r"))
    return data.decode("cp1252", errors="nerstudio-latin1"), "cp1252"


def read_text(path: str | Path, report: Report, encoding: str | None = None,
              max_bytes: int | None = MAX_FILE_BYTES) -> str:
    """Read a whole file as text (rules in the module docstring).

    Args:
        path: the file.
        report: receives W101/W130.
        encoding: a forced encoding (no fallback, no per-line replacement); None to decide by the rules.
        max_bytes: size limit in bytes (E131 beyond it); None for no limit.

    Returns:
        The decoded text, without a leading byte order mark; line ends untouched.

    Raises:
        CorpusError: E101 (unreadable, or not valid in the forced encoding), E130 (binary), E131 (too large).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise CorpusError("E131", f"the file is {size / 2**20:,.0f} MiB, more than the {max_bytes / 2**20:,.0f} "
                              "MiB a file may have to be read into memory", file=str(p))
        data = p.read_bytes()
    except OSError as exc:
        raise CorpusError("E101", f"cannot read the file: {exc.strerror or exc}", file=str(p)) from exc
    check_text(str(p), data[:HEAD_BYTES])
    if encoding:
        try:
            text = data.decode(encoding)
        except LookupError as exc:
            raise CorpusError("E101", f"unknown encoding {encoding!r}", file=str(p),
                              fix="Use a Python codec name such as utf-8, cp1252, latin-1.") from exc
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise CorpusError("E101", f"the file is not valid {encoding} (byte {exc.start})", file=str(p),
                              line=line, fix="Choose the file's real encoding, or let the studio detect it.") from exc
        return text[1:] if text.startswith("\ufeff") else text
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(data[:HEAD_BYTES]):
        codec = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
            else _utf16_without_bom(data[:HEAD_BYTES])
        try:
            return data.decode(codec).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise CorpusError("E101", "the file looks like UTF-16 but is not valid UTF-16", file=str(p),
                              fix="Save the file as UTF-8.") from exc
    return decode_block(data, str(p), report)[0]


def iter_lines(path: str | Path, report: Report, encoding: str | None = None) -> Iterator[str]:
    """Stream a file's lines as text, without line ends (``\\n`` and a ``\\r`` before it removed).

    Memory is bounded by :data:`BLOCK_BYTES` plus the longest line, whatever the file size. The rules are those
    of :func:`read_text`, applied per block (a block found mostly not UTF-8 switches the rest of the file to
    cp1252). UTF-16 files are read whole (they are rare and small).

    Raises:
        CorpusError: E101, E130 as :func:`read_text` (before the first line is yielded).
    """
    p = Path(path)
    try:
        f = p.open("rb")
    except OSError as exc:
        raise CorpusError("E101", f"cannot read the file: {exc.strerror or exc}", file=str(p)) from exc
    with f:
        head = f.read(HEAD_BYTES)
        check_text(str(p), head)
        if encoding or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(head):
            text = read_text(p, report, encoding, max_bytes=None)
            for ln in text.split("\n"):
                yield ln[:-1] if ln.endswith("\r") else ln
            return
        if head.startswith(codecs.BOM_UTF8):
            head = head[len(codecs.BOM_UTF8):]
        pending = head
        line_no = 1
        mode: str | None = None
        while True:
            chunk = f.read(BLOCK_BYTES)
            pending += chunk
            if chunk:
                cut = pending.rfind(b"\n")
                if cut == -1:
                    continue
                block, pending = pending[:cut], pending[cut + 1:]
            else:
                block, pending = pending, b""
            text, mode = decode_block(block, str(p), report, line_no, mode)
            lines = text.split("\n")
            line_no += len(lines)
            for ln in lines:
                yield ln[:-1] if ln.endswith("\r") else ln
            if not chunk:
                return
