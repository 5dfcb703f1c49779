"""A small reader of the NATS server configuration format, enough to check what the
deployment's configs say (ports, JetStream store, cluster routes). Syntax itself is checked
by the real server (``nats-server -c FILE -t``) in the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

GENERATED = "auth.conf"


class NatsConfError(ValueError):
    pass


_KEY_END = set(" \t\r\n:={[")
_BARE_END = set("\r\n,}]")


class _Reader:
    def __init__(self, text: str, where: Path) -> None:
        self.s, self.i, self.where = text, 0, where

    def fail(self, message: str) -> NatsConfError:
        line = self.s.count("\n", 0, self.i) + 1
        return NatsConfError(f"{self.where}:{line}: {message}")

    def eof(self) -> bool:
        return self.i >= len(self.s)

    def skip(self, newlines: bool = True) -> None:
        while not self.eof():
            c = self.s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#" or self.s.startswith("//", self.i):
                while not self.eof() and self.s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def mapping(self, closing: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            self.skip()
            if self.eof():
                if closing:
                    raise self.fail(f"missing {closing!r}")
                return out
            c = self.s[self.i]
            if c == closing:
                self.i += 1
                return out
            if c in ",;":
                self.i += 1
                continue
            start = self.i
            while not self.eof() and self.s[self.i] not in _KEY_END:
                self.i += 1
            key = self.s[start : self.i]
            if not key:
                raise self.fail(f"expected a key, found {c!r}")
            self.skip(newlines=False)
            if key == "include":
                target = self.where.parent / str(self.value())
                if target.name == GENERATED and not target.exists():
                    continue  # users and permissions: generated per deployment by `govchain nats-config`
                out.update(parse_file(target))
                continue
            if not self.eof() and self.s[self.i] in ":=":
                self.i += 1
                self.skip(newlines=False)
            out[key] = self.value()

    def array(self) -> list[Any]:
        items: list[Any] = []
        while True:
            self.skip()
            if self.eof():
                raise self.fail("missing ']'")
            if self.s[self.i] == "]":
                self.i += 1
                return items
            if self.s[self.i] == ",":
                self.i += 1
                continue
            items.append(self.value())

    def value(self) -> Any:
        if self.eof():
            raise self.fail("missing value")
        c = self.s[self.i]
        if c == "{":
            self.i += 1
            return self.mapping("}")
        if c == "[":
            self.i += 1
            return self.array()
        if c in "\"'":
            end = self.s.find(c, self.i + 1)
            if end < 0:
                raise self.fail("unterminated string")
            text = self.s[self.i + 1 : end]
            self.i = end + 1
            return text
        start = self.i
        while not self.eof() and self.s[self.i] not in _BARE_END:
            if self.s[self.i] == "#":
                break
            self.i += 1
        word = self.s[start : self.i].strip()
        if word.lower() in ("true", "yes", "on"):
            return True
        if word.lower() in ("false", "no", "off"):
            return False
        if word.isdigit():
            return int(word)
        return word


def parse_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise NatsConfError(f"{path}: no such file")
    return _Reader(path.read_text(encoding="utf-8"), path).mapping(None)


def port_of(address: Any, default: int) -> int:
    """``0.0.0.0:4222`` → 4222; a bare port number stays as it is."""
    if address is None:
        return default
    if isinstance(address, int):
        return address
    return int(str(address).rsplit(":", 1)[-1])
