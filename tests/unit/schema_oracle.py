#!/usr/bin/python3
"""schema_oracle.py - independent verdicts for the Avro reader/writer pairs in tests/schema/pairs.json.

Uses python3-avro's ReaderWriterCompatibilityChecker (Debian package python3-avro, Avro 1.11) as an
oracle for test_schema_compat.c. Prints one line per pair: "<name>\t<verdict>" where verdict is
"compatible", "incompatible" or "error" (schema rejected by the Python parser). Pairs marked
"oracle": false are printed too; the C test decides which to compare.
Exit status 77 if the avro module is not available (the C test then skips the comparison).
"""
import json
import sys

try:
    import avro.schema
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
except ImportError:
    print("python3-avro not available", file=sys.stderr)
    sys.exit(77)


def verdict(reader, writer):
    try:
        r = avro.schema.parse(json.dumps(reader))
        w = avro.schema.parse(json.dumps(writer))
    except Exception:  # parse errors of any kind mean "invalid schema"
        return "error"
    result = ReaderWriterCompatibilityChecker().get_compatibility(r, w)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return "compatible"
    return "incompatible"


def main():
    if len(sys.argv) != 2:
        print("usage: schema_oracle.py pairs.json", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as fh:
        pairs = json.load(fh)["pairs"]
    for p in pairs:
        print("%s\t%s" % (p["name"], verdict(p["reader"], p["writer"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
