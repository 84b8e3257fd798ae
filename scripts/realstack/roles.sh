#!/usr/bin/env bash
# roles.sh - ask the realstack's Keystone, Glance and Nova, as the admin and as each
# project's member, what docs/testing.md's "What each role sees" records, and save the
# answers: Keystone's bodies byte for byte, the image listings cut to id, name, owner,
# visibility and status.  Run after up.sh; reads $REALSTACK_DIR's env.sh and images.env.
#
#   bash scripts/realstack/roles.sh [out-dir]   # default simulator/testdata/realstack-roles
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
DIR=${REALSTACK_DIR:-/tmp/nova-image-exporter-realstack}
OUT=${1:-$(cd "$(dirname "$0")/../.." && pwd)/simulator/testdata/realstack-roles}
set -a; . "$DIR/env.sh"; . "$DIR/images.env"; set +a
KS=${OS_AUTH_URL%/}
NV=${NOVA_URL%/*}
mkdir -p "$OUT"

token() {  # user password project
  curl -s -i -X POST "$KS/auth/tokens" -H 'Content-Type: application/json' \
    -d "$(jq -n --arg u "$1" --arg p "$2" --arg pr "$3" \
      '{auth:{identity:{methods:["password"],password:{user:{name:$u,domain:{id:"default"},password:$p}}},scope:{project:{name:$pr,domain:{id:"default"}}}}}')" \
    | awk 'tolower($1)=="x-subject-token:" {print $2}' | tr -d '\r'
}
# get token url file: the body, byte for byte, to $OUT/file; its status printed beside the file name
get() {
  local code
  code=$(curl -s -o "$OUT/$3" -w '%{http_code}' -H "X-Auth-Token: $1" "$2")
  printf '%s %s\n' "$code" "$3"
}
# images token url: every page of a Glance or Nova listing, cut to what the owner question needs
images() {
  local url=$2 next all='[]' page
  while [ -n "$url" ]; do
    page=$(curl -sf -H "X-Auth-Token: $1" "$url")
    all=$(jq -n --argjson a "$all" --argjson p "$page" '$a + $p.images')
    next=$(jq -r '.next // (.images_links // [] | map(select(.rel=="next")) | .[0].href) // empty' <<<"$page")
    case $next in "") url= ;; http*) url=$next ;; *) url=${GLANCE_URL%/}$next ;; esac
  done
  jq 'map({id, name, owner: (.owner // null), visibility: (.visibility // null), status}) | sort_by(.name)' <<<"$all"
}

ADMIN=$(token admin "$ADMIN_PASSWORD" admin)
DEMO=$(token "$OS_USERNAME" "$OS_PASSWORD" "$OS_PROJECT_NAME")
DEMO2=$(token "$USER2" "$PASSWORD2" "$PROJECT2_NAME")
ADMIN_PROJECT=$ADMIN_PROJECT_ID

{
for who in admin demo demo2; do
  case $who in admin) t=$ADMIN ;; demo) t=$DEMO ;; demo2) t=$DEMO2 ;; esac
  get "$t" "$KS/projects" "projects-as-$who.json"
  get "$t" "$KS/auth/projects" "auth-projects-as-$who.json"
  get "$t" "$KS/projects/$OS_PROJECT_ID" "project-demo-as-$who.json"
  get "$t" "$KS/projects/$PROJECT2_ID" "project-demo2-as-$who.json"
  get "$t" "$KS/projects/00000000000000000000000000000000" "project-unknown-as-$who.json"
done
} >"$OUT/status.txt"

for who in admin demo demo2; do
  case $who in admin) t=$ADMIN p=$ADMIN_PROJECT ;; demo) t=$DEMO p=$OS_PROJECT_ID ;; demo2) t=$DEMO2 p=$PROJECT2_ID ;; esac
  images "$t" "$GLANCE_URL/v2/images?limit=1000" >"$OUT/glance-images-as-$who.json"
  images "$t" "$GLANCE_URL/v2/images?limit=1000&os_hidden=true" >"$OUT/glance-hidden-images-as-$who.json"
  images "$t" "$NV/$p/images/detail?limit=1000" >"$OUT/nova-images-as-$who.json"
done
cat "$OUT/status.txt"
