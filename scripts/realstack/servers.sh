#!/usr/bin/env bash
# Seeds the realstack's Nova with servers in the states a snapshot's server may be in, by
# writing instance rows into the cell1 database: there is no nova-compute to build them.
# Idempotent (fixed uuids, INSERT OR IGNORE). Usage: servers.sh DIR MEMBER_PROJECT PROJECT2
# Prints the uuids as NAME=uuid lines for images.env.
set -euo pipefail
DIR=$1 PROJECT=$2 PROJECT2=$3
DB=$DIR/data/nova.sqlite
API_DB=$DIR/data/nova_api.sqlite

# name uuid project vm_state deleted(0, or hard-deleted)
SERVERS=(
  "SERVER_ACTIVE 5e7a0001-0000-4000-8000-000000000001 $PROJECT active 0"
  "SERVER_SHELVED 5e7a0001-0000-4000-8000-000000000002 $PROJECT shelved_offloaded 0"
  "SERVER_SOFT_DELETED 5e7a0001-0000-4000-8000-000000000003 $PROJECT soft-delete 0"
  "SERVER_ERROR 5e7a0001-0000-4000-8000-000000000004 $PROJECT error 0"
  "SERVER_BUILD 5e7a0001-0000-4000-8000-000000000005 $PROJECT building 0"
  "SERVER_DELETED 5e7a0001-0000-4000-8000-000000000006 $PROJECT deleted 1"
  "SERVER2_ACTIVE 5e7a0001-0000-4000-8000-000000000007 $PROJECT2 active 0"
  "SERVER2_SOFT_DELETED 5e7a0001-0000-4000-8000-000000000008 $PROJECT2 soft-delete 0"
)

sql="" mappings=""
for s in "${SERVERS[@]}"; do
  read -r name uuid project state deleted <<<"$s"
  # distinct creation times: Nova pages by created_at, and equal ones make its marker loop
  created="2026-01-01 00:00:${uuid: -2}.000000"  # as SQLAlchemy writes a DATETIME
  # a hard-deleted row's deleted column is its own id, as Nova's soft-delete of a row sets it
  sql+="INSERT OR IGNORE INTO instances (uuid, project_id, user_id, vm_state, power_state, display_name, hostname,
  created_at, updated_at, deleted_at, deleted, cleaned, locked, disable_terminate, launched_on, locked_by, shutdown_terminate, memory_mb, vcpus, root_gb, ephemeral_gb, instance_type_id)
  VALUES ('$uuid', '$project', 'realstack', '$state', 0, '$(tr 'A-Z_' 'a-z-' <<<"$name")', '$(tr 'A-Z_' 'a-z-' <<<"$name")',
  '$created', '$created', NULL, 0, 0, 0, 0, NULL, NULL, 0, 512, 1, 1, 0, 1);
"
  if [ "$deleted" = 1 ]; then
    sql+="UPDATE instances SET deleted = id, deleted_at = '2026-01-02 00:00:00.000000' WHERE uuid = '$uuid';
"
  fi
  # the API database maps each instance to its cell: a marker is looked up there
  mappings+="INSERT OR IGNORE INTO instance_mappings (created_at, instance_uuid, cell_id, project_id, queued_for_delete, user_id)
  SELECT '$created', '$uuid', id, '$project', $deleted, 'realstack' FROM cell_mappings WHERE name = 'cell1';
"
  echo "$name=$uuid"
done
sqlite3 "$DB" "$sql"
sqlite3 "$API_DB" "$mappings"
