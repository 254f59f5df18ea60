"""robots.txt rules as RFC 9309 defines them.

`urllib.robotparser` applies the first rule that matches in file order and knows no `*` or `$`, so a
file such as ``Disallow: /`` followed by ``Allow: /legal/`` blocks /legal/privacy there, while every
major crawler (and RFC 9309) lets the longest match win. Privacy pages are often exactly such an
``Allow`` exception, so the matching is done here, in the RFC's way:

* groups are chosen by the crawler's product token (``policy-monitor``), case-insensitively; all groups
  naming it are merged; failing that, the ``*`` groups; failing that, everything is allowed;
* the rule with the longest pattern that matches the path (with its query) decides; on a tie ``Allow``
  wins; ``*`` matches any run of characters and a trailing ``$`` anchors the end;
* ``/robots.txt`` itself is always allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["RobotsRules", "parse_robots"]


@dataclass(frozen=True)
class _Rule:
    allow: bool
    pattern: str
    regex: re.Pattern[str]


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[_Rule] = field(default_factory=list)


@dataclass(frozen=True)
class RobotsRules:
    """The rules of one robots.txt, ready to answer `allowed(url, agent)`."""

    groups: tuple[tuple[tuple[str, ...], tuple[_Rule, ...]], ...] = ()

    @classmethod
    def allow_all(cls) -> RobotsRules:
        return cls()

    def allowed(self, url: str, user_agent: str) -> bool:
        """Whether `user_agent` (a full User-Agent string or its product token) may fetch `url`."""
        parts = urlsplit(url)
        path = _normalise(parts.path or "/")
        if parts.query:
            path += "?" + _normalise(parts.query)
        if path == "/robots.txt":
            return True
        rules = self._rules_for(_product_token(user_agent))
        best: _Rule | None = None
        for rule in rules:
            if not rule.regex.match(path):
                continue
            if (
                best is None
                or len(rule.pattern) > len(best.pattern)
                or (len(rule.pattern) == len(best.pattern) and rule.allow and not best.allow)
            ):
                best = rule
        return best is None or best.allow

    def _rules_for(self, token: str) -> list[_Rule]:
        mine = [rule for agents, rules in self.groups if token in agents for rule in rules]
        if mine or any(token in agents for agents, _ in self.groups):
            return mine
        return [rule for agents, rules in self.groups if "*" in agents for rule in rules]


def parse_robots(text: str) -> RobotsRules:
    """Parse robots.txt text. Unknown lines and keys are ignored, as the RFC asks."""
    groups: list[_Group] = []
    current: _Group | None = None
    last_was_agent = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            if current is None or not last_was_agent:
                current = _Group()
                groups.append(current)
            current.agents.append(value.lower())
            last_was_agent = True
        elif key in ("allow", "disallow"):
            last_was_agent = False
            if current is None or not value:  # rules before any user-agent; empty rule matches nothing
                continue
            pattern = _normalise(value)
            current.rules.append(_Rule(key == "allow", pattern, _compile(pattern)))
        else:
            # sitemap, crawl-delay, host, ...: not group members, but they do not end a group either
            continue
    return RobotsRules(tuple((tuple(g.agents), tuple(g.rules)) for g in groups))


def _product_token(user_agent: str) -> str:
    """`policy-monitor/0.1 (+https://...)` -> `policy-monitor`."""
    token = user_agent.strip().split("/", 1)[0].split(" ", 1)[0]
    return token.lower()


def _compile(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    if anchored:
        pattern = pattern[:-1]
    body = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.compile(body + ("$" if anchored else ""))


_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")


def _normalise(value: str) -> str:
    """Percent-encode non-ASCII characters as UTF-8 and upper-case existing escapes, so that a path and
    a pattern that spell the same octets compare equal."""
    out: list[str] = []
    for char in value:
        if ord(char) > 0x7E or ord(char) < 0x21:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
        else:
            out.append(char)
    return _PERCENT.sub(lambda m: m.group(0).upper(), "".join(out))
