#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from what the project already has: the captured device
traffic in ../shared/fixtures/eas (WBXML bodies, request lines) and the documents
inside the unit and end-to-end tests (Rust string literals holding MIME messages,
iCalendar and vCard). Each seed gets the option bytes its target expects in front
(see src/fuzzing.rs). Usage: python3 fuzz/seed.py  (from the repository root)."""
import base64, glob, hashlib, json, os, re, sys, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "eas")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


# Rust string literals: "…" (with escapes and line continuations) and r#"…"#.
LIT = re.compile(r'b?r(#+)"(.*?)"\1|b?"((?:[^"\\]|\\.)*)"', re.S)


def unescape(s):
    s = re.sub(r"\\\n\s*", "", s)
    out, i = [], 0
    simple = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in simple:
                out.append(simple[n]); i += 2; continue
            if n == "x":
                out.append(chr(int(s[i + 2:i + 4], 16))); i += 4; continue
            if n == "u":
                j = s.index("}", i)
                out.append(chr(int(s[i + 3:j], 16))); i = j + 1; continue
        out.append(c); i += 1
    return "".join(out)


def literals():
    for path in glob.glob(os.path.join(ROOT, "src", "**", "*.rs"), recursive=True) + \
            glob.glob(os.path.join(ROOT, "tests", "**", "*.rs"), recursive=True):
        text = open(path, encoding="utf-8").read()
        for m in LIT.finditer(text):
            yield m.group(2) if m.group(1) else unescape(m.group(3) or "")


def main():
    for path in glob.glob(os.path.join(FIXTURES, "**", "*.wbxml"), recursive=True):
        put("wbxml_decode", open(path, "rb").read())
    for path in glob.glob(os.path.join(FIXTURES, "**", "*.json"), recursive=True):
        try:
            uri = json.load(open(path)).get("request_uri", "")
        except (ValueError, AttributeError):
            continue
        if "?" in uri:
            q = uri.split("?", 1)[1]
            put("request_line", q.encode())
            if "cmd=" not in q.lower():
                put("request_line", base64.b64decode(urllib.parse.unquote(q)))
    for lit in literals():
        b = lit.encode("utf-8", "surrogatepass")
        if "BEGIN:VCALENDAR" in lit:
            kinds = [1] if "BEGIN:VTODO" in lit else [0, 3]
            for kind in kinds:
                put("pim_to_eas", bytes([kind, 5]) + b)
                put("pim_to_eas", bytes([kind, 0x80]) + b)
        elif "BEGIN:VCARD" in lit:
            put("pim_to_eas", bytes([2, 5]) + b)
            put("pim_to_eas", bytes([2, 1]) + b)
        elif re.search(r"(?im)^(subject|from|content-type):", lit) and "\n\n" in lit.replace("\r", ""):
            put("mime_to_email", bytes([5, 1, 0, 0, 0]) + b)
            put("mime_to_email", bytes([3, 2, 32, 1, 1]) + b)
            put("mime_to_email", bytes([1, 3, 0, 2, 2]) + b)
        elif lit.startswith("Cmd=") or "&DeviceId=" in lit:
            put("request_line", b)
    for t in sorted(os.listdir(OUT)):
        print(t, len(os.listdir(os.path.join(OUT, t))), file=sys.stderr)


main()
