#!/usr/bin/env bash
# demo: pgbackup on a local kind cluster, end to end, in about two minutes.
#
#   hack/demo/demo.sh up     # what `make demo` runs (after building the images)
#   hack/demo/demo.sh down   # what `make demo-down` runs
#
# `up` creates the kind cluster $DEMO_CLUSTER (or reuses it), loads the
# images, installs the chart, starts a sample PostgreSQL with data
# (shop/orders-db) and an S3 server (storage/minio), applies
# examples/postgresbackup.yaml unchanged and adds spec.verify to it (a
# restore verification with two SQL checks), triggers a backup and waits for
# it, prints `kubectl get pgb` and `pgbackup list`, restores the backup into
# a new database and says whether its data matches. Then it verifies the
# backup: a Job from the verify CronJob (orders-verify) restores it into a
# scratch PostgreSQL in its own pod, compares row counts, runs amcheck and
# the checks; it waits for Verified=True and prints `kubectl get pgb -o
# wide`, status.lastVerifiedBackup and `pgbackup list` (VERIFIED column).
# Running it again reuses everything and takes and verifies a fresh backup.
# The cluster stays up for you to look around: the last lines print the
# KUBECONFIG to export.
#
# Environment (the Makefile sets them): KIND, HELM, KUBECTL, KIND_NODE_IMAGE,
# PGBACKUP_CI_KIND_CONFIG, CONTROLLER_IMAGE, AGENT_IMAGE, S3_TEST_IMAGE,
# PGBACKUP_BIN, DEMO_CLUSTER, DEMO_KUBECONFIG, DEMO_TIMEOUT (seconds per wait).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/hack/demo
KIND=${KIND:-kind}
HELM=${HELM:-helm}
KUBECTL=${KUBECTL:-kubectl}
KIND_NODE_IMAGE=${KIND_NODE_IMAGE:-kindest/node:v1.37.2}
CLUSTER=${DEMO_CLUSTER:-pgbackup-demo}
export KUBECONFIG=${DEMO_KUBECONFIG:-$ROOT/build/demo/kubeconfig}
TIMEOUT=${DEMO_TIMEOUT:-300}
APP_VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$ROOT/charts/pgbackup/Chart.yaml")
CONTROLLER_IMAGE=${CONTROLLER_IMAGE:-pgbackup-controller:$APP_VERSION}
AGENT_IMAGE=${AGENT_IMAGE:-pgbackup-agent:$APP_VERSION}
POSTGRES_IMAGE=pgbackup-test/postgres:17
S3_TEST_IMAGE=${S3_TEST_IMAGE:-pgbackup-test/s3:v1.8.0}
PGBACKUP_BIN=${PGBACKUP_BIN:-$ROOT/bin/pgbackup}
RELEASE=pgbackup
RELEASE_NS=pgbackup-system
NS=shop
BACKUP=orders
DESTINATION=s3://my-backups/shop/orders
S3_ENDPOINT=http://minio.storage.svc.cluster.local:9000
DB=orders
RESTORED=orders_restored
VERIFY_CRONJOB=$BACKUP-verify
# The scratch server of verifications: the sample database's image, already
# loaded into kind (the chart's default, postgres:{major}, would be pulled).
VERIFY_IMAGE_TEMPLATE=${POSTGRES_IMAGE%:*}:{major}

log() { printf '\n==> %s\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }
k() { "$KUBECTL" "$@"; }

TIMINGS=()
PHASE=""
# phase NAME FUNC: run FUNC, print and record how long it took.
phase() {
  local name=$1 fn=$2 t0=$SECONDS
  PHASE=$name
  log "$name"
  "$fn"
  TIMINGS+=("$(printf '%-34s %4ss' "$name" "$((SECONDS - t0))")")
}

on_exit() {
  local rc=$?
  if ((rc != 0)) && [[ -n $PHASE ]]; then
    printf '\ndemo: FAILED in "%s" (exit %s)\n' "$PHASE" "$rc" >&2
    diagnose || true
  fi
  exit "$rc"
}

# diagnose prints what usually explains a failure.
diagnose() {
  [[ -f $KUBECONFIG ]] || return 0
  log "diagnostics"
  k get pods,jobs,pvc -A -o wide || true
  k get pgb -n "$NS" -o yaml || true
  k get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -30 || true
  k logs -n "$RELEASE_NS" "deployment/$RELEASE-controller" --tail=50 || true
  local pod
  for pod in $(k get pods -A --no-headers 2>/dev/null | awk '$4 != "Running" && $4 != "Completed" {print $1 "/" $2}'); do
    k describe pod -n "${pod%%/*}" "${pod#*/}" | tail -25 || true
    k logs -n "${pod%%/*}" "${pod#*/}" --all-containers --tail=20 || true
  done
}

# ---- phases ----------------------------------------------------------------------------
preflight() {
  local tool img
  for tool in "$KIND" "$HELM" "$KUBECTL" docker; do
    command -v "$tool" >/dev/null || die "$tool not found: run ../shared/ci/provision and source /var/cache/pgbackup-ci/env.sh (or use make demo)"
  done
  [[ -x $PGBACKUP_BIN ]] || die "$PGBACKUP_BIN missing: make build"
  # Not the node image: kind pulls it where a registry can be reached.
  for img in "$CONTROLLER_IMAGE" "$AGENT_IMAGE" "$POSTGRES_IMAGE" "$S3_TEST_IMAGE"; do
    docker image inspect "$img" >/dev/null 2>&1 || die "image $img missing: make images test-images"
  done
  mkdir -p "$(dirname "$KUBECONFIG")"
}

cluster() {
  if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    info "reusing the kind cluster $CLUSTER"
    "$KIND" export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG" >/dev/null 2>&1
  else
    local args=(create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --kubeconfig "$KUBECONFIG")
    if [[ -n ${PGBACKUP_CI_KIND_CONFIG:-} ]]; then args+=(--config "$PGBACKUP_CI_KIND_CONFIG"); fi
    "$KIND" "${args[@]}"
  fi
  k wait --for=condition=Ready node --all --timeout="${TIMEOUT}s" >/dev/null
}

load_images() {
  # kind skips an image the node already has with the same ID.
  "$KIND" load docker-image --name "$CLUSTER" "$CONTROLLER_IMAGE" "$AGENT_IMAGE" "$POSTGRES_IMAGE" "$S3_TEST_IMAGE"
}

install_chart() {
  "$HELM" upgrade --install "$RELEASE" "$ROOT/charts/pgbackup" \
    --namespace "$RELEASE_NS" --create-namespace --kubeconfig "$KUBECONFIG" \
    --set "image.repository=${CONTROLLER_IMAGE%:*}" --set "image.tag=${CONTROLLER_IMAGE##*:}" \
    --set "agent.image.repository=${AGENT_IMAGE%:*}" --set "agent.image.tag=${AGENT_IMAGE##*:}" \
    --set "verify.postgresImageTemplate=$VERIFY_IMAGE_TEMPLATE" \
    --wait --timeout "${TIMEOUT}s"
  k get deployment -n "$RELEASE_NS" "$RELEASE-controller"
}

world() {
  sed "s|S3_TEST_IMAGE|$S3_TEST_IMAGE|g" "$HERE/world.yaml" | k apply -f -
  k create configmap orders-db-init -n "$NS" --dry-run=client -o yaml \
    --from-file=01-seed.sql="$ROOT/test/e2e/testdata/seed.sql" \
    --from-file=02-backup-role.sql="$HERE/backup-role.sql" | k apply -f -
  k rollout status -n "$NS" deployment/orders-db --timeout="${TIMEOUT}s"
  k rollout status -n storage deployment/s3 --timeout="${TIMEOUT}s"
  info "orders: $(psql "$DB" "SELECT format('%s customers, %s orders, %s order items', (SELECT count(*) FROM customers), (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items))")"
}

apply_example() {
  k apply -n "$NS" -f "$ROOT/examples/postgresbackup.yaml"
  k wait -n "$NS" --for=condition=Ready "pgb/$BACKUP" --timeout="${TIMEOUT}s"
}

# verify_spec adds spec.verify to the example: weekly (Sundays 06:00), with
# two checks run on the restored copy. The demo starts its run by hand.
verify_spec() {
  k patch pgb -n "$NS" "$BACKUP" --type merge -p '{"spec": {"verify": {
    "schedule": "0 6 * * 0",
    "checks": [
      {"name": "orders-present", "database": "orders", "sql": "SELECT count(*) > 0 FROM orders"},
      {"name": "no-orphan-items", "database": "orders",
       "sql": "SELECT NOT EXISTS (SELECT 1 FROM order_items i LEFT JOIN orders o ON o.id = i.order_id WHERE o.id IS NULL)"}]}}}'
  k wait -n "$NS" --for=condition=Ready "pgb/$BACKUP" --timeout="${TIMEOUT}s"
  local deadline=$((SECONDS + TIMEOUT))
  until k get cronjob -n "$NS" "$VERIFY_CRONJOB" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "no CronJob $VERIFY_CRONJOB after ${TIMEOUT}s"
    sleep 1
  done
  k get cronjob -n "$NS" "$VERIFY_CRONJOB"
}

trigger() {
  "$PGBACKUP_BIN" trigger "$BACKUP" -n "$NS" --wait --timeout "${TIMEOUT}s"
}

show() {
  k get pgb -n "$NS"
  echo
  run_agent demo-list list --destination "$DESTINATION"
}

restore() {
  psql postgres "DROP DATABASE IF EXISTS $RESTORED WITH (FORCE)" >/dev/null
  run_agent demo-restore restore --destination "$DESTINATION" --backup latest --database "$DB" \
    --target "postgres://postgres@orders-db.$NS.svc.cluster.local:5432/$RESTORED?sslmode=disable" --create
}

compare() {
  local query source restored
  # Every table's rows, in a stable order, then the schema's object counts.
  query="SELECT concat_ws(' ',
    (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM customers t),
    (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM products t),
    (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM orders t),
    (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM order_items t),
    (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM events t),
    (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace),
    (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace))"
  source=$(psql "$DB" "$query")
  restored=$(psql "$RESTORED" "$query")
  info "$DB:          $source"
  info "$RESTORED: $restored"
  [[ -n $source && $source == "$restored" ]] || die "data differs: $RESTORED is not identical to $DB"
  log "data matches: $RESTORED, restored from the latest backup, is identical to $DB"
}

# verify runs a verification now: a Job from the verify CronJob, as the
# schedule would start it, and waits until the controller has recorded it.
verify() {
  local job=$VERIFY_CRONJOB-demo-$(date +%s) deadline=$((SECONDS + TIMEOUT)) t0=$SECONDS seen status
  k create job -n "$NS" "$job" --from="cronjob/$VERIFY_CRONJOB"
  info "waiting for the controller to record $job (Verified condition)"
  while :; do
    seen=$(k get pgb -n "$NS" "$BACKUP" -o jsonpath='{.status.lastVerification.jobName}')
    [[ $seen == "$job" ]] && break
    ((SECONDS < deadline)) || die "Job $job not recorded in the status after ${TIMEOUT}s"
    sleep 1
  done
  k logs -n "$NS" "job/$job" -c verify --tail=4 | sed 's/^/    | /'
  status=$(k get pgb -n "$NS" "$BACKUP" -o jsonpath='{range .status.conditions[?(@.type=="Verified")]}{.status} {.reason}: {.message}{end}')
  info "Verified=$status"
  [[ $status == True* ]] || die "verification failed: Verified=$status"
  log "verified: the latest backup restores and passes its checks ($((SECONDS - t0))s from Job to Verified)"
}

show_verified() {
  k get pgb -n "$NS" -o wide
  echo
  info "status.lastVerifiedBackup: $(k get pgb -n "$NS" "$BACKUP" -o jsonpath='{.status.lastVerifiedBackup}')"
  run_agent demo-list-verified list --destination "$DESTINATION"
}

# psql DB QUERY: run a query in the PostgreSQL pod as the superuser.
psql() {
  k exec -n "$NS" deployment/orders-db -- psql -X -q -At -v ON_ERROR_STOP=1 -U postgres -d "$1" \
    -c "SET client_min_messages = warning" -c "$2"
}

# run_agent NAME ARGS...: run `pgbackup ARGS...` in a Job with the agent
# image and the example's S3 credentials, wait for it and print its output.
run_agent() {
  local name=$1 args state deadline=$((SECONDS + TIMEOUT))
  shift
  args=$(printf '"%s",' "$@")
  k delete job -n "$NS" "$name" --ignore-not-found --wait >/dev/null
  k apply -n "$NS" -f - >/dev/null <<EOF
{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "$name"},
 "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "template": {"spec": {
   "restartPolicy": "Never", "automountServiceAccountToken": false,
   "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532},
   "containers": [{"name": "pgbackup", "image": "$AGENT_IMAGE", "imagePullPolicy": "IfNotPresent",
     "args": [${args%,}],
     "env": [
       {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s3-credentials", "key": "AWS_ACCESS_KEY_ID"}}},
       {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "s3-credentials", "key": "AWS_SECRET_ACCESS_KEY"}}},
       {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "orders-db-superuser", "key": "password"}}},
       {"name": "AWS_REGION", "value": "us-east-1"},
       {"name": "AWS_ENDPOINT_URL_S3", "value": "$S3_ENDPOINT"}]}]}}}}
EOF
  info "\$ pgbackup $*"
  while :; do
    state=$(k get job -n "$NS" "$name" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
    [[ $state == *Complete* || $state == *Failed* ]] && break
    ((SECONDS < deadline)) || die "Job $name not finished after ${TIMEOUT}s"
    sleep 1
  done
  k logs -n "$NS" "job/$name" | sed 's/^/    | /'
  [[ $state == *Complete* ]] || die "pgbackup $1 failed (Job $name)"
}

up() {
  local t0=$SECONDS
  trap on_exit EXIT
  phase "preflight" preflight
  phase "kind cluster $CLUSTER" cluster
  phase "kind load docker-image" load_images
  phase "helm upgrade --install" install_chart
  phase "PostgreSQL and S3 with data" world
  phase "apply examples/postgresbackup.yaml" apply_example
  phase "kubectl patch: spec.verify" verify_spec
  phase "pgbackup trigger --wait" trigger
  phase "kubectl get pgb; pgbackup list" show
  phase "pgbackup restore (new database)" restore
  phase "compare source and restored data" compare
  phase "verify Job (scratch PostgreSQL)" verify
  phase "kubectl get pgb -o wide; list" show_verified
  PHASE=""
  log "timings"
  printf '    %s\n' "${TIMINGS[@]}" >&2
  info "total: $((SECONDS - t0))s"
  log "the cluster stays up; look around with:"
  info "export KUBECONFIG=$KUBECONFIG"
  info "kubectl get pgb -n $NS; kubectl describe pgb -n $NS $BACKUP"
  info "make demo-down   # removes it"
}

down() {
  if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    "$KIND" delete cluster --name "$CLUSTER"
  else
    info "no kind cluster $CLUSTER"
  fi
  rm -f "$KUBECONFIG"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down" ;;
esac
