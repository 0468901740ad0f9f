#!/usr/bin/env bash
# 42-admin-schemas: magnetar-admin schemas upload | get [--version N | -a] |
# test-compatibility (and its alias compatibility) | delete [-f] with Pulsar's schema
# definition files, against the real broker; failures exit non-zero with the server's reason.
# Then `apply -f` with schemas: the HexaBuilders manifest twice (the second run changes
# nothing) and the seed's two Avro schemas read back through the CLI and the REST API; a
# changed schema is uploaded as a new version, an incompatible one is refused (and reported
# by --dry-run), and schemas from a file or an inline JSON string.
set -u
BIN=${MAGNETAR_BIN:?}
ADMIN=${MG_BUILD_DIR:?}/bin/magnetar-admin
SRC=${MG_SOURCE_DIR:?}
DIR=$(mktemp -d /tmp/mg-schemas-XXXXXX)
printf 'brokerServicePort=0\nwebServicePort=0\nretentionCheckIntervalInSeconds=3600\n' > "$DIR/broker.conf"
"$BIN" standalone -c "$DIR/broker.conf" --data-dir "$DIR/data" > "$DIR/out.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q 'magnetar ready' "$DIR/out.log" && break; sleep 0.1; done
WEB=$(grep -o 'webServicePort=[0-9]*' "$DIR/out.log" | cut -d= -f2)
[ -n "$WEB" ] || { echo "broker did not start"; cat "$DIR/out.log"; exit 1; }
URL="http://localhost:$WEB"
A() { "$ADMIN" --admin-url "$URL" "$@"; }
FAILS=0
ok()   { if "$@" > "$DIR/last" 2>&1; then :; else echo "FAIL (rc=$?): $*"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }
fails(){ if "$@" > "$DIR/last" 2>&1; then echo "FAIL (expected failure): $*"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }
has()  { if ! grep -q -- "$1" "$DIR/last"; then echo "FAIL: output lacks '$1'"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }
hasnt(){ if grep -q -- "$1" "$DIR/last"; then echo "FAIL: output has '$1'"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }
lines(){ if [ "$(wc -l < "$DIR/last")" != "$1" ]; then echo "FAIL: expected $1 line(s)"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }

# Pulsar's schema definition files: {"type", "schema" (the Avro schema as a string), "properties"}
avro() { # name fields-json -> file
  printf '{"type": "AVRO", "schema": "{\\"type\\":\\"record\\",\\"name\\":\\"User\\",\\"fields\\":[%s]}", "properties": {"owner": "%s"}}\n' "$2" "$1" > "$DIR/$1.json"
}
avro v1 '{\"name\":\"name\",\"type\":\"string\"}'
avro v2 '{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"age\",\"type\":\"int\",\"default\":0}'
avro v4 '{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"age\",\"type\":\"int\",\"default\":0},{\"name\":\"nick\",\"type\":\"string\",\"default\":\"\"}'
avro v3 '{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"email\",\"type\":\"string\"}'   # no default
printf '{"type": "AVRO", "schema": "{not json", "properties": {}}\n' > "$DIR/invalid.json"
printf 'type: AVRO\n' > "$DIR/notjson.json"

ok A tenants create acme
ok A namespaces create acme/app
T=persistent://acme/app/users

# --- upload, get ----------------------------------------------------------------------------
fails A schemas get $T;                  has "Schema not found"
ok A schemas upload $T -f "$DIR/v1.json"
ok A schemas get $T;                     has '"version": 0'; has '"name": "users"'; has '"type": "AVRO"'
has '"owner": "v1"'; has '"name": "User"'          # the schema is shown parsed, as pulsar-admin does
ok A schemas upload --filename "$DIR/v1.json" acme/app/users   # identical: same version, other name form
ok A schemas get acme/app/users;         has '"version": 0'

# --- compatibility (the namespace default: FULL) ----------------------------------------------
ok A schemas test-compatibility $T -f "$DIR/v2.json"
has '"compatibility": true'; has '"schemaCompatibilityStrategy": "FULL"'
fails A schemas compatibility $T -f "$DIR/v3.json"
has '"compatibility": false'; has "Reason:"; has "email"
fails A schemas upload $T -f "$DIR/v3.json"
has "Reason:"; has "email"; has "HTTP 409"

# --- a second version, get --version, get --all-version ---------------------------------------
ok A schemas upload $T -f "$DIR/v2.json"
ok A schemas get $T;                     has '"version": 1'; has '"age"'
ok A schemas get $T --version 0;         has '"version": 0'; hasnt '"age"'
ok A schemas get $T -v 1;                has '"age"'
ok A schemas get $T -a;                  has '"version": 0'; has '"version": 1'
fails A schemas get $T --version 7;      has "Schema not found"
fails A schemas get $T --version x
fails A schemas get $T --version 0 -a

# --- bad input --------------------------------------------------------------------------------
fails A schemas upload $T -f "$DIR/invalid.json";      has "Reason:"; has "HTTP 422"
fails A schemas upload $T -f "$DIR/notjson.json";      has "Cannot read the schema file"
fails A schemas upload $T -f "$DIR/missing.json";      has "Cannot read the schema file"
fails A schemas upload $T;                             has "required"
fails A schemas upload -f "$DIR/v1.json";              has "topic"
fails A schemas upload persistent://acme/nope/users -f "$DIR/v1.json"; has "does not exist"
fails A schemas frobnicate $T;                         has "Unknown command"
fails A schemas get $T --bogus 1;                      has "Unknown option"

# --- delete: soft, then forced ------------------------------------------------------------------
ok A schemas delete $T
fails A schemas get $T;                  has "Schema is deleted"
ok A schemas get $T --version 1;         has '"age"'      # versions stay readable by number
ok A schemas upload $T -f "$DIR/v3.json"                 # after a delete, anything goes
ok A schemas get $T;                     has '"version": 3'; has '"email"'
ok A schemas delete $T -f
fails A schemas get $T;                  has "Schema not found"
ok A schemas upload $T -f "$DIR/v1.json"
ok A schemas get $T;                     has '"version": 0'  # a forced delete starts again at 0
ok A schemas delete --force $T

# --- apply -f: the HexaBuilders manifest, twice -------------------------------------------------
Y=$SRC/examples/hexabuilders/hexabuilders.yaml
PR=persistent://hexabuilders/partner-management/partner-registration
CE=persistent://hexabuilders/onboarding/contract-events
ok A apply -f "$Y" --dry-run
has "would upload AVRO schema for $PR"; has "would upload AVRO schema for $CE"
fails A schemas get $PR                  # dry run wrote nothing
ok A apply -f "$Y"
has "upload AVRO schema for $PR: version 0"; has "upload AVRO schema for $CE: version 0"
ok A apply -f "$Y";                      has "no changes"; lines 1
ok A apply -f "$Y" --dry-run;            has "no changes"; lines 1

# the seed's two schemas, back through the CLI ...
ok A schemas get $PR
has '"version": 0'; has '"type": "AVRO"'; has '"name": "PartnerRegistrationCompleted"'
has '"namespace": "com.hexabuilders.partners.events.v1"'
for f in partner_id business_name email partner_type registration_data registration_timestamp correlation_id event_version; do
  has "\"$f\""
done
ok A schemas get $CE
has '"name": "ContractActivated"'; has '"namespace": "com.hexabuilders.onboarding.events.v1"'
for f in contract_id partner_id contract_type effective_date campaign_permissions budget_limits correlation_id event_version; do
  has "\"$f\""
done
ok A namespaces get-schema-compatibility-strategy hexabuilders/onboarding; has FULL
# ... and through the REST API, the exact stored Avro (compact JSON, fields in the seed's order)
if command -v curl > /dev/null; then
  curl -sf "$URL/admin/v2/schemas/hexabuilders/partner-management/partner-registration/schema" > "$DIR/last" || echo "FAIL: REST GET"
  has '"type":"AVRO"'; has '"version":0'
  has 'PartnerRegistrationCompleted\\",\\"namespace\\":\\"com.hexabuilders.partners.events.v1\\",\\"fields\\":\[{\\"name\\":\\"partner_id\\"'
  has '{\\"name\\":\\"event_version\\",\\"type\\":\\"int\\",\\"default\\":1}\]}'
  curl -sf "$URL/admin/v2/schemas/hexabuilders/onboarding/contract-events/schemas" > "$DIR/last" || echo "FAIL: REST GET all"
  has '"getSchemaResponses":\[{"version":0'; has 'ContractActivated'
fi

# --- apply -f: changed, incompatible, file and string forms -------------------------------------
mk() { # version-fields -> $DIR/m.yaml (namespace acme/app, topic users)
  cat > "$DIR/m.yaml" <<EOF
tenants:
  - name: acme
    namespaces:
      - name: app
        topics:
          - {name: users}
        schemas:
          - topic: users
            type: AVRO
            properties: {team: core, rev: 2}
            schema:
              type: record
              name: User
              fields:
$1
EOF
}
mk '                - {name: name, type: string}'
ok A apply -f "$DIR/m.yaml";   has "upload AVRO schema for persistent://acme/app/users: version 0"
ok A apply -f "$DIR/m.yaml";   has "no changes"; lines 1      # properties 2 -> "2" still equal
ok A schemas get $T;           has '"rev": "2"'
mk '                - {name: name, type: string}
                - {name: age, type: int, default: 0}'
ok A apply -f "$DIR/m.yaml" --dry-run; has "would upload AVRO schema for persistent://acme/app/users (latest version 0)"
ok A apply -f "$DIR/m.yaml";   has "upload AVRO schema for persistent://acme/app/users (latest version 0): version 1"
ok A apply -f "$DIR/m.yaml";   has "no changes"
sed -i 's/rev: 2/rev: 3/' "$DIR/m.yaml"    # properties alone are not versioned (Pulsar's SchemaHash)
ok A apply -f "$DIR/m.yaml";   has "no changes"; has "differs only in its properties"
mk '                - {name: name, type: string}
                - {name: email, type: string}'
fails A apply -f "$DIR/m.yaml" --dry-run; has "would upload"; has "would be refused"; has "email"
fails A apply -f "$DIR/m.yaml";  has "refused"; has "Reason:"; has "email"
ok A schemas get $T;           has '"version": 1'             # nothing was written

# a Pulsar schema file next to the manifest, and an inline JSON string (spacing is not a change)
mkdir -p "$DIR/schemas"
cp "$DIR/v4.json" "$DIR/schemas/users.json"
cat > "$DIR/f.yaml" <<'EOF'
tenants:
  - name: acme
    namespaces:
      - name: app
        schemas:
          - {topic: users, file: schemas/users.json}
          - topic: persistent://acme/app/names
            type: AVRO
            schema: '{"type": "record", "name": "Name",  "fields": [{"name": "n", "type": "string"}]}'
          - {topic: acme/app/plain, type: STRING}
EOF
ok A apply -f "$DIR/f.yaml"
has "upload AVRO schema for persistent://acme/app/users (latest version 1): version 2"
has "upload AVRO schema for persistent://acme/app/names: version 0"
has "upload STRING schema for persistent://acme/app/plain: version 0"
ok A apply -f "$DIR/f.yaml";   has "no changes"; lines 1
ok A schemas get persistent://acme/app/plain; has '"type": "STRING"'
ok A schemas get $T;           has '"nick"'; has '"owner": "v4"'
cp "$DIR/v1.json" "$DIR/schemas/users.json"   # = version 0: the registry will not make it the latest
ok A apply -f "$DIR/f.yaml";   has "no changes"; has "older than the latest"
ok A schemas get $T;           has '"version": 2'
printf 'tenants:\n  - name: acme\n    namespaces:\n      - name: app\n        schemas:\n          - {topic: users}\n' > "$DIR/bad.yaml"
fails A apply -f "$DIR/bad.yaml"; has "type"
printf 'tenants:\n  - name: acme\n    namespaces:\n      - name: app\n        schemas: {topic: users}\n' > "$DIR/bad.yaml"
fails A apply -f "$DIR/bad.yaml"; has "must be a list"

if [ $FAILS -ne 0 ]; then echo "$FAILS failure(s)"; tail -20 "$DIR/out.log"; exit 1; fi
echo "all schema CLI checks passed"
