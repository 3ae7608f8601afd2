"""The condition language of permission statements: a tokenizer, a recursive-descent parser
into a typed tree, and an evaluator built from that tree (never `eval`).

Grammar (lowest precedence first)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand    := NUMBER | STRING | VARIABLE | FUNCTION "(" literal ("," literal)* ")"
                | "(" expr ")"

Variables: `currentDate` (date, UTC), `currentDateTime` (date-time, UTC), `samUserName`,
`multiFactorAuthPresent` (true/false: the session was opened with a second factor, a TOTP
code, a backup code or a passkey; false for sessions opened with an AuthKey, like AWS's
`aws:MultiFactorAuthPresent`).
Functions: `date(y, m, d)`, `dateTime(y, m, d, h, mi, s)`, `ipAddress('cidr', ...)`,
`httpMethod('GET', ...)`, `pathVariable('name')`. Function arguments are literals, so every
value is checked when the statement is saved (a bad CIDR, 31 February, an unknown method).

Every expression has a static type, checked at parse time: comparing a string with a date,
or `and` on a string, is a syntax error with its position. At run time the only failures
left are facts missing from the request (a path variable it does not have, a caller that
is not a SAM user); they raise `EvaluationError`, and the policy engine then treats the
statement as not matching for an allow and as matching for a deny (fail closed).
"""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

MAX_LENGTH = 1000  # characters in one condition
MAX_DEPTH = 32  # nesting of parentheses and `not`
MAX_ARGUMENTS = 32  # literals in one function call
MAX_NODES = 128  # operands, calls, comparisons and connectives in one tree

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ConditionSyntaxError(ValueError):
    """A condition that cannot be saved; `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.reason = message
        self.position = position


class EvaluationError(Exception):
    """The request lacks a fact the condition needs."""


@dataclass
class Facts:
    """What a condition can see about one call."""

    now: datetime
    source_ip: str = ""
    method: str = "GET"
    path_vars: dict[str, str] = field(default_factory=dict)
    sam_user_name: str | None = None
    second_factor: bool = False
    _ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = field(default=None, repr=False)

    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        if self._ip is None:
            try:
                address = ipaddress.ip_address(self.source_ip)
            except ValueError:
                raise EvaluationError("the source address is not an IP address") from None
            # An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is that IPv4 client.
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            self._ip = address
        return self._ip


# --- tokens -----------------------------------------------------------------------------

NUMBER, STRING, NAME, OP, LPAREN, RPAREN, COMMA, END = (
    "number",
    "string",
    "name",
    "operator",
    "(",
    ")",
    ",",
    "end of condition",
)
_COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
_KEYWORDS = frozenset({"and", "or", "not"})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int
    value: object = None


def tokenize(source: str) -> list[Token]:
    """Return the tokens of a condition, ending with an END token."""
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in " \t\r\n":
            i += 1
        elif c == "(":
            tokens.append(Token(LPAREN, c, i))
            i += 1
        elif c == ")":
            tokens.append(Token(RPAREN, c, i))
            i += 1
        elif c == ",":
            tokens.append(Token(COMMA, c, i))
            i += 1
        elif c in "=!<>":
            two = source[i : i + 2]
            if two in _COMPARISONS:
                tokens.append(Token(OP, two, i))
                i += 2
            elif c in "<>":
                tokens.append(Token(OP, c, i))
                i += 1
            elif c == "=":
                raise ConditionSyntaxError("use == to compare", i)
            else:
                raise ConditionSyntaxError("use 'not' to negate, or != to compare", i)
        elif c in "'\"":
            end = source.find(c, i + 1)
            if end < 0:
                raise ConditionSyntaxError("unterminated string", i)
            text = source[i + 1 : end]
            if any(ord(ch) < 32 for ch in text):
                raise ConditionSyntaxError("control character in a string", i)
            tokens.append(Token(STRING, source[i : end + 1], i, text))
            i = end + 1
        elif c.isascii() and c.isdigit():
            j = i
            while j < n and source[j].isascii() and source[j].isdigit():
                j += 1
            if j < n and source[j] == "." and j + 1 < n and source[j + 1].isdigit():
                j += 1
                while j < n and source[j].isascii() and source[j].isdigit():
                    j += 1
            text = source[i:j]
            if len(text) > 30:
                raise ConditionSyntaxError("number too long", i)
            tokens.append(Token(NUMBER, text, i, Decimal(text)))
            i = j
        elif c.isascii() and (c.isalpha() or c == "_"):
            j = i
            while j < n and source[j].isascii() and (source[j].isalnum() or source[j] == "_"):
                j += 1
            text = source[i:j]
            tokens.append(Token(OP if text in _KEYWORDS else NAME, text, i))
            i = j
        else:
            raise ConditionSyntaxError(f"unexpected character {c!r}", i)
    tokens.append(Token(END, "", n))
    return tokens


# --- the tree ---------------------------------------------------------------------------

BOOL, STR, NUM, DATE, DATETIME = "boolean", "string", "number", "date", "date-time"


@dataclass(frozen=True)
class Node:
    """One node of the tree: `kind` says which, `type` is its static value type."""

    kind: str  # literal | variable | call | compare | and | or | not
    type: str
    position: int
    value: object = None  # literal value, variable name, function name, or comparison op
    children: tuple[Node, ...] = ()


_VARIABLES = {
    "currentDate": DATE,
    "currentDateTime": DATETIME,
    "samUserName": STR,
    "multiFactorAuthPresent": BOOL,
}
_FUNCTIONS = {
    "date": DATE,
    "dateTime": DATETIME,
    "ipAddress": BOOL,
    "httpMethod": BOOL,
    "pathVariable": STR,
}


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.i = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != END:
            self.i += 1
        return token

    def expect(self, kind: str) -> Token:
        token = self.current
        if token.kind != kind:
            raise ConditionSyntaxError(f"expected {kind}, found {_describe(token)}", token.position)
        return self.take()

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionSyntaxError(f"nested more than {MAX_DEPTH} levels deep", position)

    def parse(self) -> Node:
        node = self.expr()
        if self.current.kind != END:
            raise ConditionSyntaxError(
                f"unexpected {_describe(self.current)}", self.current.position
            )
        if node.type != BOOL:
            raise ConditionSyntaxError(
                f"the condition is a {node.type}, not true or false", node.position
            )
        return node

    def expr(self) -> Node:
        return self._chain("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._chain("and", self.not_expr)

    def _chain(self, word: str, operand: Callable[[], Node]) -> Node:
        parts = [operand()]
        while self.current.kind == OP and self.current.text == word:
            self.take()
            parts.append(operand())
        if len(parts) == 1:
            return parts[0]
        for part in parts:
            _require(part, BOOL, f"'{word}'")
        return Node(word, BOOL, parts[0].position, children=tuple(parts))

    def not_expr(self) -> Node:
        token = self.current
        if token.kind == OP and token.text == "not":
            self.take()
            self.enter(token.position)
            inner = self.not_expr()
            self.depth -= 1
            _require(inner, BOOL, "'not'")
            return Node("not", BOOL, token.position, children=(inner,))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.current
        if token.kind != OP or token.text not in _COMPARISONS:
            return left
        self.take()
        right = self.operand()
        if left.type != right.type:
            raise ConditionSyntaxError(
                f"cannot compare a {left.type} with a {right.type}", token.position
            )
        if left.type == BOOL and token.text not in ("==", "!="):
            raise ConditionSyntaxError(
                "true/false values can only be compared with == or !=", token.position
            )
        return Node("compare", BOOL, token.position, token.text, (left, right))

    def operand(self) -> Node:
        token = self.current
        if token.kind == NUMBER:
            self.take()
            return Node("literal", NUM, token.position, token.value)
        if token.kind == STRING:
            self.take()
            return Node("literal", STR, token.position, token.value)
        if token.kind == LPAREN:
            self.take()
            self.enter(token.position)
            node = self.expr()
            self.depth -= 1
            self.expect(RPAREN)
            return node
        if token.kind == NAME:
            self.take()
            if self.current.kind == LPAREN:
                return self.call(token)
            if token.text in _VARIABLES:
                return Node("variable", _VARIABLES[token.text], token.position, token.text)
            if token.text in _FUNCTIONS:
                raise ConditionSyntaxError(f"{token.text} needs arguments", token.position)
            raise ConditionSyntaxError(f"unknown name {token.text!r}", token.position)
        raise ConditionSyntaxError(f"unexpected {_describe(token)}", token.position)

    def call(self, name: Token) -> Node:
        if name.text not in _FUNCTIONS:
            raise ConditionSyntaxError(f"unknown function {name.text!r}", name.position)
        self.expect(LPAREN)
        args: list[Token] = []
        if self.current.kind != RPAREN:
            while True:
                token = self.current
                if token.kind not in (NUMBER, STRING):
                    raise ConditionSyntaxError(
                        f"{name.text} takes literal arguments, found {_describe(token)}",
                        token.position,
                    )
                args.append(self.take())
                if len(args) > MAX_ARGUMENTS:
                    raise ConditionSyntaxError("too many arguments", token.position)
                if self.current.kind != COMMA:
                    break
                self.take()
        self.expect(RPAREN)
        value = _check_call(name, args)
        return Node(
            "call",
            _FUNCTIONS[name.text],
            name.position,
            name.text,
            (Node("literal", "value", name.position, value),),
        )


def _describe(token: Token) -> str:
    if token.kind == END:
        return "end of condition"
    return f"{token.text!r}"


def _require(node: Node, kind: str, where: str) -> None:
    if node.type != kind:
        raise ConditionSyntaxError(
            f"{where} needs true/false operands, not a {node.type}", node.position
        )


def _integers(name: Token, args: list[Token], count: int) -> list[int]:
    if len(args) != count:
        raise ConditionSyntaxError(f"{name.text} takes {count} numbers", name.position)
    values = []
    for arg in args:
        if arg.kind != NUMBER or "." in arg.text:
            raise ConditionSyntaxError(f"{name.text} takes whole numbers", arg.position)
        values.append(int(arg.text))
    return values


def _strings(name: Token, args: list[Token], at_least: int = 1) -> list[str]:
    if len(args) < at_least:
        raise ConditionSyntaxError(f"{name.text} needs at least {at_least} string", name.position)
    for arg in args:
        if arg.kind != STRING:
            raise ConditionSyntaxError(f"{name.text} takes strings", arg.position)
    return [str(arg.value) for arg in args]


def _check_call(name: Token, args: list[Token]) -> object:
    """Validate a call's literal arguments and return what the evaluator needs."""
    fn = name.text
    if fn in ("date", "dateTime"):
        # The count and kind of the arguments first, outside the try: ConditionSyntaxError
        # is a ValueError, and the calendar check below must not swallow their reasons.
        values = _integers(name, args, 3 if fn == "date" else 6)
        try:
            return date(*values) if fn == "date" else datetime(*values, tzinfo=UTC)
        except (ValueError, OverflowError):
            raise ConditionSyntaxError(
                f"{fn} is not a real calendar value", name.position
            ) from None
    if fn == "ipAddress":
        networks = []
        for arg, text in zip(args, _strings(name, args), strict=True):
            try:
                networks.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ConditionSyntaxError(
                    f"{text!r} is not an IP address or CIDR block", arg.position
                ) from None
        return tuple(networks)
    if fn == "httpMethod":
        methods = []
        for arg, text in zip(args, _strings(name, args), strict=True):
            if text.upper() not in HTTP_METHODS:
                raise ConditionSyntaxError(f"{text!r} is not an HTTP method", arg.position)
            methods.append(text.upper())
        return frozenset(methods)
    # pathVariable
    names = _strings(name, args)
    if len(names) != 1:
        raise ConditionSyntaxError("pathVariable takes one name", name.position)
    return names[0]


def parse(source: str) -> Node:
    """Return the checked tree of a condition, or raise ConditionSyntaxError."""
    if not isinstance(source, str):
        raise ConditionSyntaxError("a condition is a string", 0)
    if len(source) > MAX_LENGTH:
        raise ConditionSyntaxError(f"longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not source.strip():
        raise ConditionSyntaxError("the condition is empty", 0)
    tree = _Parser(source).parse()
    _check_size(tree)
    return tree


def _check_size(tree: Node) -> None:
    # Evaluation visits each node at most once (no loops, no regex, nothing that grows with
    # the request's data beyond comparing two strings): its cost is bounded by this count.
    count, stack = 0, [tree]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConditionSyntaxError(
                f"more than {MAX_NODES} operands and operators", node.position
            )
        stack.extend(node.children)


# --- evaluation -------------------------------------------------------------------------

Evaluator = Callable[[Facts], object]

_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _current_date(facts: Facts) -> date:
    return facts.now.astimezone(UTC).date()


def _current_datetime(facts: Facts) -> datetime:
    return facts.now.astimezone(UTC)


def _sam_user_name(facts: Facts) -> str:
    if facts.sam_user_name is None:
        raise EvaluationError("the caller is not a SAM user")
    return facts.sam_user_name


def _second_factor(facts: Facts) -> bool:
    return bool(facts.second_factor)


def compile_tree(node: Node) -> Evaluator:
    """Turn a checked tree into a function of the call's facts (closures, no `eval`)."""
    kind = node.kind
    if kind == "literal":
        value = node.value
        return lambda facts: value
    if kind == "variable":
        return {
            "currentDate": _current_date,
            "currentDateTime": _current_datetime,
            "samUserName": _sam_user_name,
            "multiFactorAuthPresent": _second_factor,
        }[str(node.value)]
    if kind == "call":
        return _compile_call(str(node.value), node.children[0].value)
    if kind == "compare":
        compare = _COMPARE[str(node.value)]
        left, right = (compile_tree(child) for child in node.children)
        return lambda facts: compare(left(facts), right(facts))
    parts = tuple(compile_tree(child) for child in node.children)
    if kind == "and":
        return lambda facts: all(part(facts) for part in parts)
    if kind == "or":
        return lambda facts: any(part(facts) for part in parts)
    inner = parts[0]  # not
    return lambda facts: not inner(facts)


def _compile_call(fn: str, value: object) -> Evaluator:
    if fn in ("date", "dateTime"):
        return lambda facts: value
    if fn == "ipAddress":
        networks = value

        def in_networks(facts: Facts) -> bool:
            address = facts.ip()
            return any(address in network for network in networks)  # type: ignore[union-attr]

        return in_networks
    if fn == "httpMethod":
        methods = value
        return lambda facts: facts.method.upper() in methods  # type: ignore[operator]
    variable = str(value)

    def path_variable(facts: Facts) -> str:
        try:
            return facts.path_vars[variable]
        except KeyError:
            raise EvaluationError(f"this call has no path variable {variable!r}") from None

    return path_variable


@dataclass(frozen=True)
class Condition:
    """A parsed, compiled condition with its source text."""

    source: str
    tree: Node
    test: Evaluator

    @classmethod
    def parse(cls, source: str) -> Condition:
        tree = parse(source)
        return cls(source, tree, compile_tree(tree))

    def holds(self, facts: Facts) -> bool:
        """Return the condition's truth, or raise EvaluationError when a fact is missing."""
        try:
            return bool(self.test(facts))
        except EvaluationError:
            raise
        except (TypeError, ValueError, ArithmeticError, InvalidOperation) as exc:
            # Static types rule these out; should one slip through, it must fail closed.
            raise EvaluationError(str(exc)) from None
