"""Read one hypothesis file safely: plain YAML data or a SpecError naming file and line, never a traceback.

PyYAML's `safe_load` builds only plain data (no Python objects), but on its own it silently keeps the
last of two equal keys, recurses once per nesting level, and lets aliases multiply a small file into a
huge structure. Those are checked here on the event stream and the node tree, before anything is built.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

from refute.spec.errors import LineMap, SpecError, SpecIssue, dotted

MAX_BYTES = 1_000_000  # hypothesis files are a few kB; anything near this is a mistake
MAX_DEPTH = 40  # nesting levels; a hypothesis needs about six
MAX_NODES = 100_000  # values after expanding aliases


def read_yaml(path: str | Path) -> tuple[dict, LineMap, str]:
    """The file's mapping, a line finder for its fields, and its text."""
    path = Path(path)
    file = str(path)

    def fail(line: int, message: str, field: str = "") -> SpecError:
        return SpecError([SpecIssue(file, line, field, message)])

    # Checked before reading: a FIFO would block and a link to a device (/dev/zero) would never end.
    try:
        st = path.stat()
    except OSError as exc:
        raise fail(0, f"cannot read the file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise fail(0, "not a regular file (a pipe, device or folder); a hypothesis is a YAML text file")
    if st.st_size > MAX_BYTES:
        raise fail(1, f"the file is {st.st_size:,} bytes; a hypothesis file may be at most {MAX_BYTES:,}")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # a file still growing cannot slip past the limit either
    except OSError as exc:
        raise fail(0, f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise fail(1, f"the file is over {MAX_BYTES:,} bytes; a hypothesis file may be at most {MAX_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None
    if "\x00" in text:
        raise fail(text[: text.index("\x00")].count("\n") + 1, "the file contains a NUL byte; is it a binary file?")

    try:
        _check_nesting(text, fail)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            _check_nodes(root, fail)
        data = yaml.safe_load(text)
    except SpecError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if getattr(exc, "context", None):  # e.g. "while parsing a flow mapping" / "expected ',' or '}'"
            problem = f"{exc.context}, {problem}"
        raise fail(mark.line + 1 if mark else 1, f"malformed YAML: {problem}") from None
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp out of range (2024-13-45)
        raise fail(1, f"malformed YAML: {exc}") from None

    if data is None:
        raise fail(1, "the file is empty; a hypothesis is a YAML mapping")
    if not isinstance(data, dict):
        raise fail(1, f"a hypothesis must be a YAML mapping, not a {type(data).__name__}")
    return data, LineMap(text), text


def _check_nesting(text: str, fail) -> None:
    # The parser's event stream is iterative, so depth is measured before the recursive composer runs.
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise fail(event.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _check_nodes(root: yaml.Node, fail) -> None:
    """Duplicate keys are errors (YAML forbids them; PyYAML keeps the last), and aliases may not
    expand the document beyond MAX_NODES values."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, path: tuple = ()) -> int:
        if id(node) in sizes:
            if sizes[id(node)] == 0:
                raise fail(node.start_mark.line + 1, "an alias refers to its own anchor (a value containing itself)",
                           dotted(path))
            return sizes[id(node)]
        sizes[id(node)] = 0  # in progress: meeting it again below means it contains itself
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    line = key.start_mark.line + 1
                    if (key.tag, key.value) in seen:
                        raise fail(line, f"duplicate key (first at line {seen[key.tag, key.value]}); "
                                         "YAML would silently keep only the last", dotted([*path, key.value]))
                    seen[key.tag, key.value] = line
            total = 1 + sum(size(k) + size(v, (*path, k.value)) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(v, (*path, i)) for i, v in enumerate(node.value))
        else:
            total = 1
        if total > MAX_NODES:
            raise fail(node.start_mark.line + 1, f"the document expands to more than {MAX_NODES:,} values "
                                                 "(aliases repeating aliases?)")
        sizes[id(node)] = total
        return total

    size(root)
