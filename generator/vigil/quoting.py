"""One double-quoted string syntax that both YAML and PromQL (Go) read alike:
printable characters as they are; quotes and backslashes escaped; the rest as
\\xXX (ASCII), \\uXXXX or \\UXXXXXXXX — never JSON's surrogate pairs, which Go refuses."""


_quoted: dict[str, str] = {}     # label values (service, team, job) repeat in every series of a test


def double_quoted(value: str) -> str:
    out = _quoted.get(value)
    if out is None:
        out = _quoted[value] = _quote(value)
    return out


def _quote(value: str) -> str:
    if value.isprintable():          # nearly every string: at most quotes and backslashes to escape
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            n = ord(ch)
            out.append(f"\\x{n:02x}" if n < 0x80 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}")
    return '"' + "".join(out) + '"'
