#!/usr/bin/env bash
# up.sh - stand up a REAL Keystone + Glance + Nova API (Debian bookworm / Zed
# packages) on 127.0.0.1 only, with sqlite databases under $REALSTACK_DIR, for
# nova_image_exporter's integration test (make test-integration).
# Adapted from the workplace's reference recipe for a real OpenStack; every
# pitfall it met on this kind of machine is explained where it is handled.
#
#   eval "$(bash up.sh)"        # progress goes to stderr, exports to stdout
#
# Idempotent-ish: re-running re-uses the work dir, skips what is done and does
# not restart services that are still alive.  To start from scratch:
#   bash down.sh && rm -rf "${REALSTACK_DIR:-/tmp/realstack}" && bash up.sh
#
# Every PID started is appended to $REALSTACK_DIR/pids ("name pid" lines);
# down.sh ends exactly those.
set -euo pipefail
shopt -s inherit_errexit

# Debian's python3 and tools first (this box has a pyenv python3 earlier on PATH)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
unset PYTHONPATH PYTHONHOME || true
export LC_ALL=C.UTF-8 LANG=C.UTF-8
PY=/usr/bin/python3

DIR=${REALSTACK_DIR:-/tmp/nova-image-exporter-realstack}
KS_PORT=${REALSTACK_KEYSTONE_PORT:-25000}
GL_PORT=${REALSTACK_GLANCE_PORT:-29292}
NV_PORT=${REALSTACK_NOVA_PORT:-28774}
REGION=RegionOne
ADMIN_PASS=${REALSTACK_ADMIN_PASSWORD:-admin-secret}
SERVICE_PASS=${REALSTACK_SERVICE_PASSWORD:-service-secret}
PROJECT=${REALSTACK_PROJECT:-demo}
MEMBER_USER=${REALSTACK_USER:-demo}
MEMBER_PASS=${REALSTACK_PASSWORD:-demo-secret}
# a user of its own for the lockout test, which sends it a wrong password: the
# admin and the member user are never locked
LOCKOUT_USER=${REALSTACK_LOCKOUT_USER:-lockout}
LOCKOUT_PASS=${REALSTACK_LOCKOUT_PASSWORD:-lockout-secret}
LOCKOUT_ATTEMPTS=${REALSTACK_LOCKOUT_ATTEMPTS:-3}
LOCKOUT_DURATION=${REALSTACK_LOCKOUT_DURATION:-1800}
HOST=127.0.0.1
DEBUG=${REALSTACK_DEBUG:-false}   # true: oslo debug logging in $DIR/log/*.log
# sqlite + uwsgi: a connection may be closed by another thread; wait on locks
SQLQ="?timeout=30&check_same_thread=false"
KS=http://$HOST:$KS_PORT
KS3=$KS/v3
GL=http://$HOST:$GL_PORT
NV=http://$HOST:$NV_PORT

log() { printf '[realstack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
T0=$(date +%s)

mkdir -p "$DIR"/{etc/keystone,etc/glance,etc/nova,log,data,debs,run}
DIR=$(cd "$DIR" && pwd)
PIDS=$DIR/pids
touch "$PIDS"

###############################################################################
# 1. packages (library packages installed; service packages only unpacked)
###############################################################################
PKGS=(python3-keystone python3-glance python3-nova python3-openstackclient
      python3-glanceclient python3-novaclient uwsgi-core uwsgi-plugin-python3
      curl jq sqlite3 iproute2)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # keep maintainer scripts from starting any daemon
  if ! { [ -x /usr/sbin/policy-rc.d ] && grep -qx 'exit 101' /usr/sbin/policy-rc.d; }; then
    [ -e /usr/sbin/policy-rc.d ] && cp -a /usr/sbin/policy-rc.d "$DIR/policy-rc.d.orig"
    printf '#!/bin/sh\n# written by realstack up.sh: never start services from maintainer scripts\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  log "installing: ${missing[*]}"
  t=$(date +%s)
  apt-get update >"$DIR/log/apt-update.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
    >"$DIR/log/apt-install.log" 2>&1 || { tail -20 "$DIR/log/apt-install.log" >&2; die "apt-get install failed"; }
  log "install took $(( $(date +%s) - t ))s"
fi

# The service packages (nova-common, glance-common, glance-api) carry the
# wsgi entry scripts, nova-manage/glance-manage and the paste ini files, but
# their postinst scripts want dbconfig-common, system users, /etc/... and
# would try to db_sync.  So they are fetched with 'apt-get download' at the
# same version as the installed python3-* package and unpacked under
# $DIR/debroot, never installed.
DEBROOT=$DIR/debroot
if [ ! -x "$DEBROOT/usr/bin/nova-api-wsgi" ] || [ ! -x "$DEBROOT/usr/bin/glance-wsgi-api" ] \
   || [ ! -f "$DEBROOT/usr/share/glance-common/glance-api-paste.ini" ]; then
  nv=$(dpkg-query -W -f='${Version}' python3-nova)
  gv=$(dpkg-query -W -f='${Version}' python3-glance)
  log "unpacking service packages nova-common=$nv glance-common=$gv glance-api=$gv"
  ( cd "$DIR/debs" && chown _apt: . 2>/dev/null || true
    apt-get download "nova-common=$nv" "glance-common=$gv" "glance-api=$gv" >"$DIR/log/apt-download.log" 2>&1 ) \
    || { cat "$DIR/log/apt-download.log" >&2; die "apt-get download failed"; }
  mkdir -p "$DEBROOT"
  for f in "$DIR"/debs/*.deb; do dpkg-deb -x "$f" "$DEBROOT"; done
fi

###############################################################################
# 2. configuration
###############################################################################
# a recorded pid counts as ours and alive only if it is a live (not zombie)
# uwsgi whose command line names this work dir (guards against pid reuse)
alive() { [ -n "${1:-}" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "uwsgi.*$DIR/"; }
recorded_pid() { awk -v n="$1" '$1==n {p=$2} END {print p}' "$PIDS"; }

for pp in "keystone:$KS_PORT" "glance:$GL_PORT" "nova:$NV_PORT"; do
  n=${pp%%:*}; p=${pp##*:}
  alive "$(recorded_pid "$n")" && continue
  if [ -n "$(ss -Hltn "sport = :$p")" ]; then
    die "port $p (for $n) is already in use, not by this work dir's $n: $(ss -Hltnp "sport = :$p" | tr -s ' ') -- set REALSTACK_${n^^}_PORT"
  fi
done

KSCONF=$DIR/etc/keystone/keystone.conf
cat >"$KSCONF" <<EOF
[DEFAULT]
debug = $DEBUG
use_stderr = true
[database]
connection = sqlite:///$DIR/data/keystone.sqlite$SQLQ
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $DIR/data/keystone-fernet-keys
[fernet_receipts]
key_repository = $DIR/data/keystone-fernet-keys
[credential]
key_repository = $DIR/data/keystone-credential-keys
[cache]
enabled = false
[oslo_policy]
policy_file = $DIR/etc/keystone/policy.yaml
# a user is locked after this many failed logins in a row, as a production
# Keystone is often configured; the exporter must never get there
[security_compliance]
lockout_failure_attempts = $LOCKOUT_ATTEMPTS
lockout_duration = $LOCKOUT_DURATION
EOF

authtoken() {  # $1 = service user
cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PASS
region_name = $REGION
service_token_roles_required = true
# no token cache: a token revoked in Keystone must be refused at once (the
# integration test revokes one), not served from the cache for 5 minutes
token_cache_time = -1
EOF
}

GLCONF=$DIR/etc/glance/glance-api.conf
mkdir -p "$DIR/data/glance/images" "$DIR/data/glance/staging" "$DIR/data/lock"
{ cat <<EOF
[DEFAULT]
debug = $DEBUG
use_stderr = true
bind_host = $HOST
bind_port = $GL_PORT
workers = 1
node_staging_uri = file://$DIR/data/glance/staging
image_size_cap = 1099511627776
enabled_import_methods = [glance-direct]
# quotas from Keystone's unified limits (registered in step 5; the [oslo_limit]
# section naming Glance's endpoint is appended there, once its id is known)
use_keystone_limits = True
[database]
connection = sqlite:///$DIR/data/glance.sqlite$SQLQ
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $DIR/data/glance/images/
[paste_deploy]
flavor = keystone
config_file = $DIR/etc/glance/glance-api-paste.ini
[oslo_policy]
policy_file = $DIR/etc/glance/policy.yaml
[oslo_concurrency]
lock_path = $DIR/data/lock
EOF
authtoken glance; } >"$GLCONF.base"
sed "s#/etc/glance/healthcheck_disable#$DIR/etc/glance/healthcheck_disable#" \
  "$DEBROOT/usr/share/glance-common/glance-api-paste.ini" >"$DIR/etc/glance/glance-api-paste.ini"

NVCONF=$DIR/etc/nova/nova.conf
mkdir -p "$DIR/data/nova"
{ cat <<EOF
[DEFAULT]
debug = $DEBUG
use_stderr = true
host = realstack
my_ip = $HOST
state_path = $DIR/data/nova
# no RabbitMQ: the API paths used here never send RPC
transport_url = fake://
enabled_apis = osapi_compute
osapi_compute_listen = $HOST
osapi_compute_listen_port = $NV_PORT
osapi_compute_workers = 1
[api]
auth_strategy = keystone
[api_database]
connection = sqlite:///$DIR/data/nova_api.sqlite$SQLQ
[database]
connection = sqlite:///$DIR/data/nova.sqlite$SQLQ
[glance]
region_name = $REGION
valid_interfaces = public
[oslo_messaging_notifications]
driver = noop
[oslo_concurrency]
lock_path = $DIR/data/lock
[oslo_policy]
policy_file = $DIR/etc/nova/policy.yaml
[wsgi]
api_paste_config = $DIR/etc/nova/api-paste.ini
[service_user]
send_service_user_token = false
[placement]
region_name = $REGION
auth_type = password
auth_url = $KS
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = $SERVICE_PASS
EOF
authtoken nova; } >"$NVCONF"
sed "s#/etc/nova/healthcheck_disable#$DIR/etc/nova/healthcheck_disable#" \
  "$DEBROOT/usr/share/nova-common/api-paste.ini" >"$DIR/etc/nova/api-paste.ini"

# uwsgi ini files, derived from Debian's /etc/{keystone,glance,nova}/*-uwsgi.ini
# minus uid/gid/apparmor/logto, plus a loopback http-socket.
uwsgi_ini() {  # name port wsgi-file processes threads env extra
  cat <<EOF
[uwsgi]
plugins = python3
http-socket = $HOST:$2
wsgi-file = $3
name = $1
master = true
processes = $4
threads = $5
enable-threads = true
thunder-lock = true
lazy-apps = true
no-orphans = true
die-on-term = true
buffer-size = 65535
listen = 100
# uwsgi's http-socket closes after every response without saying so; clients
# (keystoneauth/requests in glance's and nova's auth_token middleware) then
# reuse the dead keep-alive connection: "RemoteDisconnected".  Say it.
add-header = Connection: close
chdir = $DIR
logto = $DIR/log/$1.log
env = $6
$7
EOF
}
uwsgi_ini keystone "$KS_PORT" /usr/bin/keystone-wsgi-public 2 1 \
  "OS_KEYSTONE_CONFIG_FILES=$KSCONF" "" >"$DIR/etc/keystone/uwsgi.ini"
uwsgi_ini glance "$GL_PORT" "$DEBROOT/usr/bin/glance-wsgi-api" 2 1 \
  "OS_GLANCE_CONFIG_DIR=$DIR/etc/glance" "$(printf '%s\n' \
  'http-auto-chunked = true' 'http-chunked-input = true' 'http-raw-body = true' \
  'wsgi-manage-chunked-input = true' 'socket-timeout = 30')" \
  >"$DIR/etc/glance/uwsgi.ini"
uwsgi_ini nova "$NV_PORT" "$DEBROOT/usr/bin/nova-api-wsgi" 1 1 \
  "OS_NOVA_CONFIG_DIR=$DIR/etc/nova" "" >"$DIR/etc/nova/uwsgi.ini"

###############################################################################
# 3. databases (sqlite) and keystone bootstrap (offline)
###############################################################################
if [ ! -f "$DIR/data/.dbs-ready" ]; then
  t=$(date +%s)
  log "db sync: keystone"
  keystone-manage --config-file "$KSCONF" db_sync >>"$DIR/log/manage.log" 2>&1 || die "keystone db_sync (see $DIR/log/manage.log)"
  keystone-manage --config-file "$KSCONF" fernet_setup --keystone-user root --keystone-group root >>"$DIR/log/manage.log" 2>&1
  keystone-manage --config-file "$KSCONF" credential_setup --keystone-user root --keystone-group root >>"$DIR/log/manage.log" 2>&1
  keystone-manage --config-file "$KSCONF" bootstrap \
    --bootstrap-password "$ADMIN_PASS" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id "$REGION" \
    --bootstrap-admin-url "$KS/v3" --bootstrap-internal-url "$KS/v3" \
    --bootstrap-public-url "$KS/v3" >>"$DIR/log/manage.log" 2>&1 || die "keystone bootstrap (see $DIR/log/manage.log)"
  log "db sync: glance"
  $PY "$DEBROOT/usr/bin/glance-manage" --config-file "$GLCONF.base" db_sync >>"$DIR/log/manage.log" 2>&1 || die "glance db_sync (see $DIR/log/manage.log)"
  log "db sync: nova (api, cell0, cell1)"
  NM=("$PY" "$DEBROOT/usr/bin/nova-manage" --config-file "$NVCONF")
  "${NM[@]}" api_db sync >>"$DIR/log/manage.log" 2>&1 || die "nova api_db sync (see $DIR/log/manage.log)"
  "${NM[@]}" cell_v2 map_cell0 --database_connection "sqlite:///$DIR/data/nova_cell0.sqlite" >>"$DIR/log/manage.log" 2>&1 || die "nova map_cell0"
  "${NM[@]}" db sync >>"$DIR/log/manage.log" 2>&1 || die "nova db sync (see $DIR/log/manage.log)"
  "${NM[@]}" cell_v2 create_cell --name cell1 >>"$DIR/log/manage.log" 2>&1 || true
  touch "$DIR/data/.dbs-ready"
  log "databases ready in $(( $(date +%s) - t ))s"
fi

# WAL journal mode (persistent, so idempotent): under uwsgi, keystone leaves
# an idle read transaction open on a connection now and then; in the default
# rollback-journal mode that SHARED lock makes every later write fail with
# "database is locked".  In WAL mode readers never block the writer.
for f in "$DIR"/data/*.sqlite; do sqlite3 "$f" 'PRAGMA journal_mode=WAL;' >/dev/null; done

###############################################################################
# 4. start services
###############################################################################
start_svc() {  # name ini
  local n=$1 ini=$2 old
  old=$(recorded_pid "$n")
  if alive "$old"; then log "$n already running (pid $old)"; return; fi
  setsid uwsgi --ini "$ini" </dev/null >>"$DIR/log/$n.out" 2>&1 &
  echo "$n $!" >>"$PIDS"
  log "started $n (uwsgi master pid $!)"
}
wait_http() {  # name url max_seconds
  local i code
  for ((i = 0; i < $3; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$2" || true)
    case $code in 2??|3??) log "$1 ready ($2 -> $code) after ${i}s"; return 0 ;; esac
    sleep 1
    alive "$(recorded_pid "$1")" || { tail -30 "$DIR/log/$1.log" >&2; die "$1 died"; }
  done
  tail -30 "$DIR/log/$1.log" >&2; die "$1 not ready after $3s"
}
record_children() {  # also note uwsgi workers, so down.sh can verify they went
  local n=$1 m c
  m=$(recorded_pid "$n")
  for c in $(ps -o pid= --ppid "$m" 2>/dev/null); do
    grep -q "^$n-worker $c\$" "$PIDS" || echo "$n-worker $c" >>"$PIDS"
  done
}

ts=$(date +%s)
start_svc keystone "$DIR/etc/keystone/uwsgi.ini"
wait_http keystone "$KS/v3" 120

###############################################################################
# 5. keystone resources (REST calls with jq; get-or-create)
###############################################################################
token_for() {  # user password project -> prints token
  curl -s -i -X POST "$KS3/auth/tokens" -H 'Content-Type: application/json' \
    -d "$(jq -n --arg u "$1" --arg p "$2" --arg pr "$3" \
      '{auth:{identity:{methods:["password"],password:{user:{name:$u,domain:{id:"default"},password:$p}}},scope:{project:{name:$pr,domain:{id:"default"}}}}}')" \
    | awk 'tolower($1)=="x-subject-token:" {print $2}' | tr -d '\r'
}
ADMIN_TOKEN=$(token_for admin "$ADMIN_PASS" admin)
[ -n "$ADMIN_TOKEN" ] || die "could not get an admin token"
ks() {  # method path [json]
  if [ $# -ge 3 ]; then
    curl -sf -X "$1" "$KS3$2" -H "X-Auth-Token: $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$3"
  else
    curl -sf -X "$1" "$KS3$2" -H "X-Auth-Token: $ADMIN_TOKEN"
  fi
}
get_or_create() {  # collection(plural) singular name json-body
  local id
  id=$(ks GET "/$1?name=$(jq -rn --arg s "$3" '$s|@uri')" | jq -r --arg k "$1" '.[$k][0].id // empty')
  if [ -z "$id" ]; then id=$(ks POST "/$1" "$4" | jq -r --arg k "$2" '.[$k].id'); fi
  echo "$id"
}
proj() { get_or_create projects project "$1" "$(jq -n --arg n "$1" --arg d "$2" '{project:{name:$n,domain_id:"default",description:$d}}')"; }
user() { get_or_create users user "$1" "$(jq -n --arg n "$1" --arg p "$2" --arg pr "$3" '{user:{name:$n,password:$p,domain_id:"default",default_project_id:$pr}}')"; }
role() { get_or_create roles role "$1" "$(jq -n --arg n "$1" '{role:{name:$n}}')"; }
grant() { ks PUT "/projects/$1/users/$2/roles/$3" >/dev/null; }
service() {  # type name
  local id
  id=$(ks GET "/services?type=$1" | jq -r '.services[0].id // empty')
  [ -n "$id" ] || id=$(ks POST /services "$(jq -n --arg t "$1" --arg n "$2" '{service:{type:$t,name:$n,enabled:true}}')" | jq -r .service.id)
  echo "$id"
}
endpoint() {  # service_id interface url
  local have
  have=$(ks GET "/endpoints?service_id=$1&interface=$2" | jq -r '.endpoints[0].url // empty')
  if [ -z "$have" ]; then
    ks POST /endpoints "$(jq -n --arg s "$1" --arg i "$2" --arg u "$3" --arg r "$REGION" \
      '{endpoint:{service_id:$s,interface:$i,url:$u,region_id:$r,enabled:true}}')" >/dev/null
  fi
}

ADMIN_ROLE=$(role admin); MEMBER_ROLE=$(role member); READER_ROLE=$(role reader)
SERVICE_PROJECT=$(proj service "service users")
DEMO_PROJECT=$(proj "$PROJECT" "realstack test project")
for su in glance nova; do
  uid=$(user "$su" "$SERVICE_PASS" "$SERVICE_PROJECT")
  grant "$SERVICE_PROJECT" "$uid" "$ADMIN_ROLE"
done
MEMBER_ID=$(user "$MEMBER_USER" "$MEMBER_PASS" "$DEMO_PROJECT")
grant "$DEMO_PROJECT" "$MEMBER_ID" "$MEMBER_ROLE"
grant "$DEMO_PROJECT" "$MEMBER_ID" "$READER_ROLE"
LOCKOUT_ID=$(user "$LOCKOUT_USER" "$LOCKOUT_PASS" "$DEMO_PROJECT")
grant "$DEMO_PROJECT" "$LOCKOUT_ID" "$READER_ROLE"
IMG_SVC=$(service image glance)
NOVA_SVC=$(service compute nova)
for i in public internal admin; do
  endpoint "$IMG_SVC" $i "$GL"
  endpoint "$NOVA_SVC" $i "$NV/v2.1/%(project_id)s"
done
log "keystone: project $PROJECT=$DEMO_PROJECT, user $MEMBER_USER=$MEMBER_ID, catalog has identity/image/compute"

# Unified limits for Glance, as devstack's lib/glance sets them up: registered
# limits (the defaults of every project) for service glance in $REGION, and an
# [oslo_limit] section through which Glance reads them, authenticated as the
# glance user with the system-scoped reader role (Keystone's get_endpoint and
# list limits policies: admin or system reader).  oslo.limit 2.0 (Zed) knows
# its service only by endpoint_id: the id of Glance's public endpoint.  Sizes
# are MiB.  Existing registered limits are updated to these values, never
# duplicated.
QUOTA_IMAGE_SIZE_TOTAL=${REALSTACK_QUOTA_IMAGE_SIZE_TOTAL:-10240}
QUOTA_IMAGE_STAGE_TOTAL=${REALSTACK_QUOTA_IMAGE_STAGE_TOTAL:-5120}
QUOTA_IMAGE_COUNT_TOTAL=${REALSTACK_QUOTA_IMAGE_COUNT_TOTAL:-100}
QUOTA_IMAGE_COUNT_UPLOADING=${REALSTACK_QUOTA_IMAGE_COUNT_UPLOADING:-10}
registered_limit() {  # resource default
  local have
  have=$(ks GET "/registered_limits?service_id=$IMG_SVC&region_id=$REGION&resource_name=$1" \
    | jq -r '.registered_limits[0] // empty | "\(.id) \(.default_limit)"')
  if [ -z "$have" ]; then
    ks POST /registered_limits "$(jq -n --arg s "$IMG_SVC" --arg r "$REGION" --arg n "$1" --argjson d "$2" \
      '{registered_limits:[{service_id:$s,region_id:$r,resource_name:$n,default_limit:$d}]}')" >/dev/null \
      || die "creating the registered limit $1 failed"
  elif [ "${have#* }" != "$2" ]; then
    ks PATCH "/registered_limits/${have%% *}" "$(jq -n --argjson d "$2" '{registered_limit:{default_limit:$d}}')" >/dev/null \
      || die "updating the registered limit $1 failed"
  fi
}
registered_limit image_size_total "$QUOTA_IMAGE_SIZE_TOTAL"
registered_limit image_stage_total "$QUOTA_IMAGE_STAGE_TOTAL"
registered_limit image_count_total "$QUOTA_IMAGE_COUNT_TOTAL"
registered_limit image_count_uploading "$QUOTA_IMAGE_COUNT_UPLOADING"
GLANCE_UID=$(user glance "$SERVICE_PASS" "$SERVICE_PROJECT")
ks PUT "/system/users/$GLANCE_UID/roles/$READER_ROLE" >/dev/null || die "granting glance the system reader role failed"
GL_ENDPOINT_ID=$(ks GET "/endpoints?service_id=$IMG_SVC&interface=public" | jq -r '.endpoints[0].id // empty')
[ -n "$GL_ENDPOINT_ID" ] || die "no public endpoint of glance in the catalog"
{ cat "$GLCONF.base"; cat <<EOF
[oslo_limit]
auth_url = $KS
auth_type = password
user_domain_id = default
username = glance
password = $SERVICE_PASS
system_scope = all
endpoint_id = $GL_ENDPOINT_ID
region_name = $REGION
EOF
} >"$GLCONF.new"
# a glance still running from an earlier run with another configuration (say,
# without the limits) is restarted; one with this configuration is left alone
if alive "$(recorded_pid glance)" && ! cmp -s "$GLCONF.new" "$GLCONF"; then
  gpid=$(recorded_pid glance)
  log "glance's configuration changed: restarting glance (pid $gpid)"
  kill -TERM "$gpid"
  for ((i = 0; i < 60; i++)); do
    [ -z "$(ss -Hltn "sport = :$GL_PORT")" ] && ! alive "$gpid" && break
    sleep 0.5
  done
  alive "$gpid" && die "glance (pid $gpid) did not stop"
fi
mv "$GLCONF.new" "$GLCONF"
log "keystone: registered limits for glance (MiB: size $QUOTA_IMAGE_SIZE_TOTAL, stage $QUOTA_IMAGE_STAGE_TOTAL; count $QUOTA_IMAGE_COUNT_TOTAL, uploading $QUOTA_IMAGE_COUNT_UPLOADING), oslo_limit endpoint $GL_ENDPOINT_ID"

###############################################################################
# 6. glance and nova
###############################################################################
start_svc glance "$DIR/etc/glance/uwsgi.ini"
start_svc nova "$DIR/etc/nova/uwsgi.ini"
wait_http glance "$GL/" 180
wait_http nova "$NV/" 240
record_children keystone; record_children glance; record_children nova
log "services up in $(( $(date +%s) - ts ))s"

###############################################################################
# 7. seed images (as the member user, in project $PROJECT)
###############################################################################
MEMBER_TOKEN=$(token_for "$MEMBER_USER" "$MEMBER_PASS" "$PROJECT")
[ -n "$MEMBER_TOKEN" ] || die "could not get a member token"
gl() {  # token method path [json]
  if [ $# -ge 4 ]; then
    curl -sf -X "$2" "$GL$3" -H "X-Auth-Token: $1" -H 'Content-Type: application/json' -d "$4"
  else
    curl -sf -X "$2" "$GL$3" -H "X-Auth-Token: $1"
  fi
}
image_id_by_name() {  # token name: a listing leaves hidden images out unless asked (os_hidden=true)
  local q id
  q="name=$(jq -rn --arg s "$2" '$s|@uri')"
  id=$(gl "$1" GET "/v2/images?$q" | jq -r '.images[0].id // empty')
  [ -n "$id" ] || id=$(gl "$1" GET "/v2/images?$q&os_hidden=true" | jq -r '.images[0].id // empty')
  echo "$id"
}
create_image() {  # token json -> id
  gl "$1" POST /v2/images "$2" | jq -r .id
}
upload() {  # token id bytes
  head -c "$3" /dev/urandom | curl -sf -X PUT "$GL/v2/images/$2/file" -H "X-Auth-Token: $1" \
    -H 'Content-Type: application/octet-stream' --data-binary @- >/dev/null
}
seed() {  # name json-extra upload-bytes(0=none) [token]
  local tok=${4:-$MEMBER_TOKEN} id
  id=$(image_id_by_name "$tok" "$1")
  if [ -z "$id" ]; then
    id=$(create_image "$tok" "$(jq -n --arg n "$1" --argjson x "$2" \
      '{name:$n,disk_format:"qcow2",container_format:"bare"} + $x')")
    [ "$3" -gt 0 ] && upload "$tok" "$id" "$3"
    log "seeded image '$1' -> $id"
  fi
  echo "$id"
}
SNAP_SERVER_UUID=8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10
IMG_ACTIVE=$(seed "cirros-0.6.2-x86_64-disk" '{"min_disk":1,"min_ram":512,"os_distro":"cirros"}' 4096)
IMG_QUEUED=$(seed "queued-no-data" '{}' 0)
IMG_DEACT=$(seed "to-be-deactivated" '{"min_disk":2}' 2048)
IMG_SNAP=$(seed "server-snapshot-1" "$(jq -n --arg u "$SNAP_SERVER_UUID" '{image_type:"snapshot",instance_uuid:$u,min_disk:1,min_ram:64}')" 3072)
IMG_UNI=$(seed "Ubuntu 22.04 LTS – Ünïcödé 名前 test" '{"min_ram":256}' 1024)
IMG_PUB=$(seed "public-debian-12" '{"visibility":"public","min_disk":3}' 2048 "$ADMIN_TOKEN")
# What Glance shows and Nova does not: a hidden image (Nova's proxy never asks for
# os_hidden=true) and an image in a status of Glance's own, 'uploading' (data staged by the
# import API's glance-direct method, never imported: it stays so; Nova says UNKNOWN).
IMG_HIDDEN=$(seed "hidden-rescue-image" '{"os_hidden":true,"os_distro":"cirros","min_ram":128}' 1024)
IMG_UPLOADING=$(seed "staged-not-imported" '{"os_distro":"debian"}' 0)
# 3 MiB and a little: Glance counts image_size_total in whole MiB (rounded down), so the
# others alone (a few KiB) would show a usage of 0
IMG_3MIB=$(seed "three-mib-image" '{"os_distro":"cirros"}' $((3 * 1048576 + 512)))
if [ "$(gl "$MEMBER_TOKEN" GET "/v2/images/$IMG_UPLOADING" | jq -r .status)" = queued ]; then
  head -c 1536 /dev/urandom | curl -sf -X PUT "$GL/v2/images/$IMG_UPLOADING/stage" -H "X-Auth-Token: $MEMBER_TOKEN" \
    -H 'Content-Type: application/octet-stream' --data-binary @- >/dev/null || die "staging data of $IMG_UPLOADING failed"
  log "staged data of $IMG_UPLOADING (status $(gl "$MEMBER_TOKEN" GET "/v2/images/$IMG_UPLOADING" | jq -r .status))"
fi
# A second project with a member user and images of its own, so that an admin's listing
# holds two projects' images (the owner label and the per-project families split them):
# a private active image, a queued one without data, and one shared with the first
# project and accepted there (so that the first project's member lists an image owned
# by another project beside the public one). The shared image has no min_disk/min_ram,
# is active and no snapshot: the first project's pinned filter answers stay as they are.
PROJECT2=${REALSTACK_PROJECT2:-demo2}
MEMBER2_USER=${REALSTACK_USER2:-demo2}
MEMBER2_PASS=${REALSTACK_PASSWORD2:-demo2-secret}
DEMO2_PROJECT=$(proj "$PROJECT2" "realstack second test project")
ADMIN_PROJECT=$(proj admin "")   # the owner of the public image
MEMBER2_ID=$(user "$MEMBER2_USER" "$MEMBER2_PASS" "$DEMO2_PROJECT")
grant "$DEMO2_PROJECT" "$MEMBER2_ID" "$MEMBER_ROLE"
grant "$DEMO2_PROJECT" "$MEMBER2_ID" "$READER_ROLE"
MEMBER2_TOKEN=$(token_for "$MEMBER2_USER" "$MEMBER2_PASS" "$PROJECT2")
[ -n "$MEMBER2_TOKEN" ] || die "could not get a token of $MEMBER2_USER"
IMG2_PRIVATE=$(seed "demo2-private-image" '{"visibility":"private","os_distro":"debian"}' 5120 "$MEMBER2_TOKEN")
IMG2_QUEUED=$(seed "demo2-queued-no-data" '{}' 0 "$MEMBER2_TOKEN")
IMG2_SHARED=$(seed "demo2-shared-with-demo" '{"visibility":"shared"}' 2560 "$MEMBER2_TOKEN")
if ! gl "$MEMBER2_TOKEN" GET "/v2/images/$IMG2_SHARED/members" | jq -e --arg p "$DEMO_PROJECT" '.members[] | select(.member_id == $p)' >/dev/null; then
  gl "$MEMBER2_TOKEN" POST "/v2/images/$IMG2_SHARED/members" "$(jq -n --arg p "$DEMO_PROJECT" '{member:$p}')" >/dev/null \
    || die "sharing $IMG2_SHARED with $PROJECT failed"
fi
gl "$MEMBER_TOKEN" PUT "/v2/images/$IMG2_SHARED/members/$DEMO_PROJECT" '{"status":"accepted"}' >/dev/null \
  || die "accepting $IMG2_SHARED in $PROJECT failed"
log "keystone: project $PROJECT2=$DEMO2_PROJECT, user $MEMBER2_USER=$MEMBER2_ID; image $IMG2_SHARED shared with $PROJECT"
# deactivate needs admin (glance policy "deactivate": role:admin)
st=$(gl "$ADMIN_TOKEN" GET "/v2/images/$IMG_DEACT" | jq -r .status)
if [ "$st" = active ]; then
  gl "$ADMIN_TOKEN" POST "/v2/images/$IMG_DEACT/actions/deactivate" >/dev/null && log "deactivated $IMG_DEACT"
fi
# an application credential of the member user, for the v3applicationcredential path
APPCRED_SECRET=${REALSTACK_APPCRED_SECRET:-appcred-secret}
APPCRED_ID=$(curl -sf "$KS3/users/$MEMBER_ID/application_credentials?name=exporter" -H "X-Auth-Token: $MEMBER_TOKEN" \
  | jq -r '.application_credentials[0].id // empty')
if [ -z "$APPCRED_ID" ]; then
  APPCRED_ID=$(curl -sf -X POST "$KS3/users/$MEMBER_ID/application_credentials" -H "X-Auth-Token: $MEMBER_TOKEN" \
    -H 'Content-Type: application/json' \
    -d "$(jq -n --arg s "$APPCRED_SECRET" '{application_credential:{name:"exporter",secret:$s}}')" \
    | jq -r .application_credential.id)
  log "created application credential $APPCRED_ID"
fi
[ -n "$APPCRED_ID" ] || die "could not create an application credential"

# servers in every state (servers.sh writes their rows: there is no nova-compute)
SERVERS_ENV=$("$(dirname "${BASH_SOURCE[0]}")/servers.sh" "$DIR" "$DEMO_PROJECT" "$DEMO2_PROJECT") || die "seeding the servers failed"
log "nova: $(grep -c . <<<"$SERVERS_ENV") servers seeded"

cat >"$DIR/images.env" <<EOF
IMG_ACTIVE=$IMG_ACTIVE
IMG_QUEUED=$IMG_QUEUED
IMG_DEACTIVATED=$IMG_DEACT
IMG_SNAPSHOT=$IMG_SNAP
IMG_UNICODE=$IMG_UNI
IMG_PUBLIC=$IMG_PUB
IMG_HIDDEN=$IMG_HIDDEN
IMG_UPLOADING=$IMG_UPLOADING
IMG_3MIB=$IMG_3MIB
SNAPSHOT_SERVER_UUID=$SNAP_SERVER_UUID
ADMIN_PROJECT_ID=$ADMIN_PROJECT
PROJECT2_NAME=$PROJECT2
PROJECT2_ID=$DEMO2_PROJECT
USER2=$MEMBER2_USER
PASSWORD2=$MEMBER2_PASS
IMG2_PRIVATE=$IMG2_PRIVATE
IMG2_QUEUED=$IMG2_QUEUED
IMG2_SHARED=$IMG2_SHARED
QUOTA_IMAGE_SIZE_TOTAL_MIB=$QUOTA_IMAGE_SIZE_TOTAL
QUOTA_IMAGE_STAGE_TOTAL_MIB=$QUOTA_IMAGE_STAGE_TOTAL
QUOTA_IMAGE_COUNT_TOTAL=$QUOTA_IMAGE_COUNT_TOTAL
QUOTA_IMAGE_COUNT_UPLOADING=$QUOTA_IMAGE_COUNT_UPLOADING
ADMIN_PASSWORD=$ADMIN_PASS
LOCKOUT_USER=$LOCKOUT_USER
LOCKOUT_USER_ID=$LOCKOUT_ID
LOCKOUT_PASSWORD=$LOCKOUT_PASS
LOCKOUT_FAILURE_ATTEMPTS=$LOCKOUT_ATTEMPTS
LOCKOUT_DURATION=$LOCKOUT_DURATION
$SERVERS_ENV
EOF

###############################################################################
# 8. smoke test and outputs
###############################################################################
code=$(curl -s -o "$DIR/run/images-detail.json" -w '%{http_code}' -H "X-Auth-Token: $MEMBER_TOKEN" \
  "$NV/v2.1/$DEMO_PROJECT/images/detail")
[ "$code" = 200 ] || { cat "$DIR/run/images-detail.json" >&2; die "nova images/detail answered $code"; }
log "nova images/detail -> 200 with $(jq '.images|length' "$DIR/run/images-detail.json") images"

cat >"$DIR/clouds.yaml" <<EOF
clouds:
  realstack:
    auth:
      auth_url: $KS/v3
      username: $MEMBER_USER
      password: $MEMBER_PASS
      project_name: $PROJECT
      project_id: $DEMO_PROJECT
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
  realstack-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: $KS/v3
      application_credential_id: $APPCRED_ID
      application_credential_secret: $APPCRED_SECRET
    region_name: $REGION
  realstack-demo2:
    auth:
      auth_url: $KS/v3
      username: $MEMBER2_USER
      password: $MEMBER2_PASS
      project_name: $PROJECT2
      project_id: $DEMO2_PROJECT
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
  realstack-admin:
    auth:
      auth_url: $KS/v3
      username: admin
      password: $ADMIN_PASS
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    interface: public
    identity_api_version: 3
EOF
cat >"$DIR/env.sh" <<EOF
export OS_AUTH_URL=$KS/v3
export OS_USERNAME=$MEMBER_USER
export OS_PASSWORD=$MEMBER_PASS
export OS_PROJECT_NAME=$PROJECT
export OS_PROJECT_ID=$DEMO_PROJECT
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION
export OS_IDENTITY_API_VERSION=3
export NOVA_URL=$NV/v2.1/$DEMO_PROJECT
export GLANCE_URL=$GL
export OS_CLIENT_CONFIG_FILE=$DIR/clouds.yaml
EOF
cat >"$DIR/env-admin.sh" <<EOF
export OS_AUTH_URL=$KS/v3
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PASS
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION
export OS_IDENTITY_API_VERSION=3
EOF
log "ready in $(( $(date +%s) - T0 ))s; exports also in $DIR/env.sh, clouds.yaml in $DIR/clouds.yaml, pids in $PIDS"
cat "$DIR/env.sh"
