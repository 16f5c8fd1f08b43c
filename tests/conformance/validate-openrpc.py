#!/usr/bin/python3
"""Validates the rpc.discover document and the traffic of a conformance run.

    validate-openrpc.py [--status N] RECORD [PROTOCOL.md]

(--status: the conformance run's exit status, which this one keeps when
it is not 0.)

RECORD is what tisock-conform wrote with TISOCK_CONFORM_RECORD set: per
line "CONN o|i|g|x [HEX]" (bytes sent, a line received, a gap in what was
sent, a received line too long to keep).  The document is taken from the
run's own rpc.discover answer.

The document: every schema in it must be a JSON Schema (draft 7,
Draft7Validator.check_schema) that uses draft 7 keywords only (strict: an
unknown keyword such as "schema" inside "properties" fails), every $ref
must resolve, every method must list its errors as references to
components.errors.  The traffic: every answer's result must validate
against its method's result schema, every error code must be one the
method lists (or one any request may get), and every notification's
params against the params the document declares for it.

With PROTOCOL.md, its tables must agree with the document: each method
has a section, each parameter table lists exactly the method's params
with their type, whether required and their bounds; the notification
table names exactly the notifications and no field they do not have; the
monitor.event table lists exactly monitor.event's fields.
"""
import json
import re
import sys

import jsonschema

DRAFT7_KEYWORDS = {
    "$id", "$schema", "$ref", "$comment", "title", "description", "default",
    "readOnly", "writeOnly", "examples", "multipleOf", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
    "pattern", "additionalItems", "items", "maxItems", "minItems",
    "uniqueItems", "contains", "maxProperties", "minProperties", "required",
    "additionalProperties", "definitions", "properties", "patternProperties",
    "dependencies", "propertyNames", "const", "enum", "type", "format",
    "contentMediaType", "contentEncoding", "if", "then", "else", "allOf",
    "anyOf", "oneOf", "not",
}
SCHEMA_MAPS = {"properties", "patternProperties", "definitions"}
SCHEMA_ONE = {"additionalItems", "additionalProperties", "contains",
              "propertyNames", "if", "then", "else", "not"}
SCHEMA_LISTS = {"allOf", "anyOf", "oneOf"}
# Errors any request may get, whatever its method.
ANY_REQUEST = {-32700, -32600, -32601, -32603}

problems = []


def problem(text):
    if len(problems) < 50:
        problems.append(text)


def strict(schema, where):
    """Fails on any keyword draft 7 does not define, recursively."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        problem(f"{where}: a schema must be an object, not {schema!r:.60}")
        return
    for key, value in schema.items():
        if key not in DRAFT7_KEYWORDS:
            problem(f"{where}: unknown keyword {key!r}")
        elif key in SCHEMA_MAPS:
            for name, sub in value.items():
                strict(sub, f"{where}/{key}/{name}")
        elif key in SCHEMA_ONE:
            strict(value, f"{where}/{key}")
        elif key in SCHEMA_LISTS:
            for i, sub in enumerate(value):
                strict(sub, f"{where}/{key}/{i}")
        elif key == "items":
            for i, sub in enumerate(value if isinstance(value, list) else [value]):
                strict(sub, f"{where}/items/{i}")


def object_schema(params):
    """The JSON Schema of a by-name params object described by content descriptors."""
    return {
        "type": "object",
        "properties": {p["name"]: p["schema"] for p in params},
        "required": [p["name"] for p in params if p.get("required")],
    }


class Document:
    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver("", doc)
        self.results, self.errors, self.notes = {}, {}, {}
        self.check()

    def schema_ok(self, schema, where):
        strict(schema, where)
        try:
            jsonschema.Draft7Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            problem(f"{where}: not a draft 7 schema: {e.message}")
        for ref in refs(schema):
            try:
                self.resolver.resolve(ref)
            except jsonschema.RefResolutionError:
                problem(f"{where}: $ref {ref} does not resolve")

    def check(self):
        doc = self.doc
        for name, schema in doc["components"]["schemas"].items():
            self.schema_ok(schema, f"components/schemas/{name}")
        codes = {}
        for name, err in doc["components"]["errors"].items():
            if not isinstance(err.get("code"), int) or not isinstance(err.get("message"), str):
                problem(f"components/errors/{name}: code and message needed")
            codes[f"#/components/errors/{name}"] = err.get("code")
        for m in doc["methods"]:
            where = f"methods/{m['name']}"
            for p in m["params"]:
                self.schema_ok(p["schema"], f"{where}/params/{p['name']}")
            result = m.get("result", {}).get("schema")
            if not isinstance(result, dict) or result.get("type") != "object" \
                    or "properties" not in result:
                problem(f"{where}: the result schema is not an object with properties")
                continue
            self.schema_ok(result, f"{where}/result")
            self.results[m["name"]] = result
            if "errors" not in m:
                problem(f"{where}: no errors listed")
            listed = set()
            for e in m.get("errors", []):
                if e.get("$ref") not in codes:
                    problem(f"{where}: error {e} is not a reference into components.errors")
                else:
                    listed.add(codes[e["$ref"]])
            self.errors[m["name"]] = listed
        for n in doc.get("x-notifications", []):
            for p in n["params"]:
                self.schema_ok(p["schema"], f"x-notifications/{n['name']}/params/{p['name']}")
            self.notes[n["name"]] = object_schema(n["params"])

    def validate(self, instance, schema, where):
        v = jsonschema.Draft7Validator(schema, resolver=self.resolver)
        for e in v.iter_errors(instance):
            path = "/".join(str(x) for x in e.absolute_path)
            problem(f"{where}: {path or '(top)'}: {e.message:.200}")
            break


def refs(schema):
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(schema, list):
        for v in schema:
            yield from refs(v)


def messages(text):
    try:
        m = json.loads(text)
    except ValueError:
        return []
    return m if isinstance(m, list) else [m]


def read_record(path):
    """The requests sent (conn, id, method) in order, and the lines received."""
    events, partial, skipping = [], {}, {}
    with open(path) as f:
        for rec in f:
            parts = rec.split()
            if len(parts) < 2:
                continue
            conn, kind = int(parts[0]), parts[1]
            data = bytes.fromhex(parts[2]) if len(parts) > 2 else b""
            if kind == "g":
                partial[conn], skipping[conn] = b"", True
            elif kind == "o":
                buf = partial.get(conn, b"") + data
                *lines, partial[conn] = buf.split(b"\n")
                for line in lines:
                    if skipping.pop(conn, False):
                        continue
                    events.append((conn, "o", line))
            elif kind == "i":
                events.append((conn, "i", data))
    return events


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def names(cell):
    """`a`, `b?`, `bytes: -1` -> {"a", "b", "bytes"}."""
    out = set()
    for part in cell.split(","):
        part = part.strip().strip("`").split(":")[0].rstrip("?").strip("`")
        if part and part != "…":
            out.add(part)
    return out


def tables(text):
    """(section heading, header cells, rows of cells) of every table."""
    heading, out, lines = "", [], text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            head, rows, i = [c.strip("`") for c in cells(line)], [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            out.append((heading, head, rows))
            continue
        i += 1
    return heading, out


def check_markdown(doc, path):
    with open(path) as f:
        text = f.read()
    _, found = tables(text)
    methods = {m["name"]: m for m in doc.doc["methods"]}
    for name in methods:
        if f"### {name}\n" not in text:
            problem(f"{path}: no section for {name}")
    for heading, head, rows in found:
        if head[0] == "param" and heading in methods:
            m = methods[heading]
            declared = {p["name"]: p for p in m["params"]}
            listed = set()
            for row in rows:
                col = dict(zip(head, row))
                for n in names(row[0]):
                    listed.add(n)
                    p = declared.get(n)
                    if p is None:
                        problem(f"{path}: {heading}: param {n} is not in the method table")
                        continue
                    schema = p["schema"]
                    types = schema.get("type", "?")
                    if isinstance(types, list):
                        types = " or ".join(types)
                    if not col.get("type", "").startswith(types):
                        problem(f"{path}: {heading}: {n} is {col.get('type')!r}, "
                                f"the table says {schema.get('type')}")
                    req = col.get("required", "")
                    if (req == "yes") != bool(p.get("required")):
                        problem(f"{path}: {heading}: {n} required {req!r}, the table says "
                                f"{p.get('required')}")
                    bounds = col.get("bounds", "")
                    if bounds and "minimum" in schema and \
                            bounds != f"{schema['minimum']}-{schema['maximum']}":
                        problem(f"{path}: {heading}: {n} bounds {bounds}, the table says "
                                f"{schema['minimum']}-{schema['maximum']}")
            if listed != set(declared):
                problem(f"{path}: {heading}: params {sorted(listed)}, the method table has "
                        f"{sorted(declared)}")
        elif head[:2] == ["method", "params"]:
            notes = {n["name"]: {p["name"] for p in n["params"]}
                     for n in doc.doc.get("x-notifications", [])}
            seen = {}
            for row in rows:
                name = row[0].strip("`")
                seen.setdefault(name, set()).update(names(row[1]))
            if set(seen) != set(notes):
                problem(f"{path}: notifications {sorted(seen)}, the table has {sorted(notes)}")
            for name, fields in seen.items():
                if name in notes and not fields <= notes[name]:
                    problem(f"{path}: {name}: fields {sorted(fields - notes[name])} are not "
                            f"in the method table")
                if name in notes and name != "monitor.event" and fields != notes[name]:
                    problem(f"{path}: {name}: fields {sorted(fields)}, the table has "
                            f"{sorted(notes[name])}")
        elif head[:2] == ["event", "when"]:
            fields = {"time", "event", "client", "pid", "uid", "socket"}
            for row in rows:
                fields |= names(re.sub(r"\([^)]*\)", "", row[2])) if len(row) > 2 else set()
            fields = {f.split(" ")[0] for f in fields}
            declared = {p["name"] for n in doc.doc.get("x-notifications", [])
                        if n["name"] == "monitor.event" for p in n["params"]}
            if fields != declared:
                problem(f"{path}: monitor events list {sorted(fields ^ declared)} "
                        f"differently from the method table")


def main():
    status = 0
    if len(sys.argv) > 2 and sys.argv[1] == "--status":
        status = int(sys.argv[2])
        del sys.argv[1:3]
    events = read_record(sys.argv[1])
    pending = {}		# (conn, id) -> [method, ...] in order sent
    doc = None
    checked = {"results": 0, "errors": 0, "notifications": 0}
    for conn, kind, line in events:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        for m in messages(text):
            if not isinstance(m, dict):
                continue
            key = (conn, json.dumps(m.get("id")))
            if kind == "o":
                if "id" in m and isinstance(m.get("method"), str):
                    pending.setdefault(key, []).append(m["method"])
                continue
            if "method" in m and "id" not in m:
                if doc is None:
                    continue
                schema = doc.notes.get(m["method"])
                if schema is None:
                    problem(f"notification {m['method']} is not in x-notifications")
                else:
                    doc.validate(m.get("params"), schema, f"notification {m['method']}")
                    checked["notifications"] += 1
                continue
            methods = pending.get(key)
            method = methods.pop(0) if methods else None
            if method == "rpc.discover" and "result" in m and doc is None:
                doc = Document(m["result"])
            if doc is None or method not in doc.results:
                continue
            if "result" in m:
                doc.validate(m["result"], doc.results[method], f"{method} result")
                checked["results"] += 1
            elif isinstance(m.get("error"), dict):
                code = m["error"].get("code")
                if code not in doc.errors[method] | ANY_REQUEST:
                    problem(f"{method} answered {code}, which its errors do not list: "
                            f"{text:.200}")
                checked["errors"] += 1
    if doc is None:
        problem("no rpc.discover answer in the record")
    elif len(sys.argv) > 2:
        check_markdown(doc, sys.argv[2])
    print(f"validate-openrpc: {checked['results']} results, {checked['errors']} errors, "
          f"{checked['notifications']} notifications checked against the document")
    for p in problems:
        print("FAIL", p)
    return status or (1 if problems else 0)


if __name__ == "__main__":
    sys.exit(main())
