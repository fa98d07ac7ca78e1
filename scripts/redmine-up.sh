#!/usr/bin/env bash
# redmine-up.sh — start a FRESH Redmine 5 (Debian packages, SQLite, thin) on 127.0.0.1 for
# usmhub's end-to-end tests and for trying the Redmine connector by hand. Debian 12, as root.
#
#   eval "$(scripts/redmine-up.sh)"      # → REDMINE_URL, REDMINE_API_KEY, REDMINE_PROJECT, …
#   scripts/redmine-down.sh              # stops it by its PID file
#
# It installs `redmine redmine-sqlite thin curl` (--no-install-recommends) when they are missing,
# builds a new instance in $REDMINE_STATE (wiped on every run) through Debian's multi-instance
# support (/var/lib/redmine/<instance> → $REDMINE_STATE/instance), and sets it up for the hub:
#   - REST API on, login required (a bad key is a 401), no mail, Markdown text formatting;
#   - admin with a fixed API key, users anna bram chris dewi eva conformance (project members),
#     and "outsider" (no project; a key that gets 403 on the project);
#   - project $REDMINE_PROJECT with trackers "Risk" and "Report";
#   - statuses Accepted and Planned besides the defaults (one per hub status), and "Locked",
#     which no workflow transition reaches (to prove refused status changes surface as errors);
#   - the issue custom fields the connector uses by default: USM marker, USM key, USM kind,
#     USM process, USM source, USM likelihood, USM impact, USM effort.
# Stdout: KEY=VALUE lines only. Stderr: progress. Nothing is killed by name, ever.
#
# Knobs: REDMINE_PORT (3000), REDMINE_STATE (${TMPDIR:-/tmp}/usmhub-redmine), REDMINE_INSTANCE_NAME
# (usmhub-e2e), REDMINE_API_KEY (40 hex), REDMINE_ADMIN_PASSWORD, REDMINE_PROJECT (usm).
set -euo pipefail

PORT="${REDMINE_PORT:-3000}"
STATE="${REDMINE_STATE:-${TMPDIR:-/tmp}/usmhub-redmine}"
INSTANCE="${REDMINE_INSTANCE_NAME:-usmhub-e2e}"
API_KEY="${REDMINE_API_KEY:-0123456789abcdef0123456789abcdef01234567}"
OUTSIDER_KEY="fedcba9876543210fedcba9876543210fedcba98"
ADMIN_PASSWORD="${REDMINE_ADMIN_PASSWORD:-usmhub-e2e-pass}"
PROJECT="${REDMINE_PROJECT:-usm}"
BASE="http://127.0.0.1:${PORT}"
PIDFILE="${STATE}/redmine.pid"
RM=/usr/share/redmine
PKGS="redmine redmine-sqlite thin curl"

log() { echo "[redmine-up] $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

[ "$(id -u)" = 0 ] || { log "requires root (it installs packages and writes /var/lib/redmine)"; exit 1; }
[ "$INSTANCE" != default ] || { log "REDMINE_INSTANCE_NAME=default would clobber the package's own instance"; exit 1; }
case "$STATE" in /|/tmp|/var|/usr|/etc|/root|/home|'') log "refusing REDMINE_STATE=$STATE (it is wiped)"; exit 1;; esac
case "$API_KEY" in *[!0-9a-f]*|'') log "REDMINE_API_KEY must be lowercase hex"; exit 1;; esac
case "$PROJECT" in *[!a-z0-9_-]*|'') log "REDMINE_PROJECT must be a Redmine identifier (a-z 0-9 - _)"; exit 1;; esac

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  log "already running (pid $(cat "$PIDFILE")); stop it first: scripts/redmine-down.sh"; exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then
  log "port ${PORT} is already in use"; exit 1
fi

# --- install ---------------------------------------------------------------------------------
t=$(now)
# shellcheck disable=SC2086
if [ "$(dpkg-query -W -f='${Status}\n' $PKGS 2>/dev/null | grep -c 'install ok installed')" != 4 ]; then
  log "installing $PKGS …"
  debconf-set-selections <<'EOF' || log "WARN: debconf preseed failed; package defaults apply"
redmine redmine/current-instances string default
redmine redmine/instances/default/dbconfig-install boolean true
redmine redmine/instances/default/database-type select sqlite3
redmine redmine/instances/default/default-language select en
EOF
  apt-get update -q >/dev/null 2>&1 || log "WARN: apt-get update failed"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PKGS >/tmp/usmhub-redmine-apt.log 2>&1 \
    || { tail -40 /tmp/usmhub-redmine-apt.log >&2; exit 1; }
  log "apt install took $(since "$t")s"
fi
# Redmine's Gemfile only activates thin when it was installed as Gemfile.lock was generated.
if ! grep -q '^    thin ' /var/lib/redmine/Gemfile.lock 2>/dev/null; then
  log "regenerating Gemfile.lock (thin missing)"
  (cd "$RM" && bundle install --local --quiet) >&2
fi

# --- a fresh instance -------------------------------------------------------------------------
t=$(now)
rm -rf "$STATE"
mkdir -p "$STATE"/instance/{config,db,files,log,tmp/cache,public/plugin_assets}
if [ -d "/var/lib/redmine/${INSTANCE}" ] && [ ! -L "/var/lib/redmine/${INSTANCE}" ]; then rm -rf "/var/lib/redmine/${INSTANCE}"; fi
ln -sfnT "$STATE/instance" "/var/lib/redmine/${INSTANCE}"
echo "$INSTANCE" >"$STATE/instance.name"   # redmine-down.sh removes the link
cat >"$STATE/instance/config/database.yml" <<EOF
production:
  adapter: sqlite3
  database: $STATE/instance/db/redmine.sqlite3
  timeout: 5000
EOF
cat >"$STATE/instance/config/configuration.yml" <<'EOF'
production:
  email_delivery:
    delivery_method: :test
EOF
ruby -rsecurerandom -e 'puts SecureRandom.hex(32)' >"$STATE/instance/config/secret_key.txt"

cat >"$STATE/setup.rb" <<'EOF'
raise 'default data missing' if Tracker.count == 0 || IssueStatus.count == 0
Setting.rest_api_enabled = '1'
Setting.login_required   = '1'
Setting.notified_events  = []
Setting.default_language = 'en'
# Reports are Markdown: CommonMark when its gem is there, else Markdown (Redcarpet).
Setting.text_formatting = (%w[common_mark markdown] & Redmine::WikiFormatting.format_names.to_a).first || 'textile'

def api_token(user, value)
  Token.where(user_id: user.id, action: 'api').delete_all
  Token.create!(user: user, action: 'api').update_column(:value, value)
end

admin = User.find_by_login!('admin')
admin.password = admin.password_confirmation = ENV.fetch('RM_ADMIN_PASSWORD')
admin.must_change_passwd = false
admin.save!
api_token(admin, ENV.fetch('RM_API_KEY'))

new_status = IssueStatus.find_by!(name: 'New')
%w[Accepted Planned Locked].each { |n| IssueStatus.find_or_create_by!(name: n) { |s| s.is_closed = false } }
locked = IssueStatus.find_by!(name: 'Locked')
risk_tracker   = Tracker.find_or_create_by!(name: 'Risk')   { |t| t.default_status = new_status }
report_tracker = Tracker.find_or_create_by!(name: 'Report') { |t| t.default_status = new_status }

# Every role may move an issue of any tracker between any statuses, except into Locked.
ids = IssueStatus.where.not(id: locked.id).pluck(:id)
transitions = {}
([0] + IssueStatus.pluck(:id)).each do |from|
  transitions[from.to_s] = ids.reject { |to| to == from }.to_h { |to| [to.to_s, { 'always' => '1' }] }
end
WorkflowTransition.replace_transitions(Tracker.all.to_a, Role.givable.to_a, transitions)

def cf(name, format, extra = {})
  c = IssueCustomField.find_or_initialize_by(name: name)
  c.attributes = { field_format: format, is_for_all: true, is_filter: true, searchable: format == 'string',
                   visible: true, is_required: false }.merge(extra)
  c.tracker_ids = Tracker.pluck(:id)
  c.save!
  c
end
fields = {
  'MARKER' => cf('USM marker', 'string'),
  'KEY' => cf('USM key', 'string'),
  'KIND' => cf('USM kind', 'list', possible_values: %w[threat opportunity]),
  'PROCESS' => cf('USM process', 'list', possible_values: %w[agree change recover operate improve]),
  'SOURCE' => cf('USM source', 'string'),
  'LIKELIHOOD' => cf('USM likelihood', 'int'),
  'IMPACT' => cf('USM impact', 'int'),
  'EFFORT' => cf('USM effort', 'float'),
}

ident = ENV.fetch('RM_PROJECT')
p = Project.new(name: 'USM improvement', identifier: ident, is_public: false)
p.enabled_module_names = %w[issue_tracking]
p.trackers = [risk_tracker, report_tracker]
p.issue_custom_field_ids = fields.values.map(&:id)
p.save!

manager = Role.find_by!(name: 'Manager')
developer = Role.find_by!(name: 'Developer')
Member.create!(project: p, principal: admin, role_ids: [manager.id])
%w[anna bram chris dewi eva conformance outsider].each do |login|
  u = User.new(firstname: login.capitalize, lastname: 'Test', mail: "#{login}@example.test")
  u.login = login
  u.password = u.password_confirmation = 'usmhub-e2e-user'
  u.status = User::STATUS_ACTIVE
  u.save!
  Member.create!(project: p, principal: u, role_ids: [developer.id]) unless login == 'outsider'
end
api_token(User.find_by_login!('outsider'), ENV.fetch('RM_OUTSIDER_KEY'))

puts "REDMINE_PROJECT=#{p.identifier}"
puts "REDMINE_PROJECT_ID=#{p.id}"
puts "REDMINE_RISK_TRACKER_ID=#{risk_tracker.id}"
puts "REDMINE_REPORT_TRACKER_ID=#{report_tracker.id}"
fields.each { |k, c| puts "REDMINE_CF_#{k}=#{c.id}" }
EOF

cd "$RM"
export REDMINE_INSTANCE="$INSTANCE" RAILS_ENV=production TZ=UTC
# SCHEMA=/dev/null: db:migrate as root would otherwise write db/schema.rb into /usr/share/redmine.
# Two processes: in one, load_default_data fails on a stale column cache and still exits 0.
SCHEMA=/dev/null bundle exec rake db:migrate >"$STATE/init.log" 2>&1 \
  || { tail -40 "$STATE/init.log" >&2; exit 1; }
REDMINE_LANG=en bundle exec rake redmine:load_default_data >>"$STATE/init.log" 2>&1 \
  || { tail -40 "$STATE/init.log" >&2; exit 1; }
grep -q '^Default configuration data loaded' "$STATE/init.log" || { tail -20 "$STATE/init.log" >&2; exit 1; }
RM_API_KEY="$API_KEY" RM_OUTSIDER_KEY="$OUTSIDER_KEY" RM_ADMIN_PASSWORD="$ADMIN_PASSWORD" RM_PROJECT="$PROJECT" \
  bundle exec rails runner "$STATE/setup.rb" >"$STATE/setup.out" 2>>"$STATE/init.log" \
  || { tail -40 "$STATE/init.log" >&2; exit 1; }
log "database set up in $(since "$t")s"

# --- start thin on loopback ---------------------------------------------------------------------
t=$(now)
# bundle exec exec()s thin and setsid does not fork (a background job is no group leader),
# so $! is the server's PID.
nohup setsid bundle exec thin start -a 127.0.0.1 -p "$PORT" -e production -R config.ru \
  >"$STATE/server.log" 2>&1 </dev/null &
echo $! >"$PIDFILE"
code=000
for _ in $(seq 1 240); do
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then log "the server died:"; tail -40 "$STATE/server.log" >&2; exit 1; fi
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Redmine-API-Key: $API_KEY" "$BASE/users/current.json" || true)
  [ "$code" = 200 ] && break
  sleep 0.25
done
[ "$code" = 200 ] || { log "not ready after 60s (last HTTP $code)"; tail -40 "$STATE/server.log" >&2; exit 1; }
log "ready after $(since "$t")s at $BASE (pid $(cat "$PIDFILE"))"

{ echo "REDMINE_URL=$BASE"; echo "REDMINE_API_KEY=$API_KEY"; echo "REDMINE_OUTSIDER_KEY=$OUTSIDER_KEY"
  cat "$STATE/setup.out"; echo "REDMINE_ADMIN_PASSWORD=$ADMIN_PASSWORD"
  echo "REDMINE_STATE=$STATE"; echo "REDMINE_PID=$(cat "$PIDFILE")"; echo "REDMINE_PIDFILE=$PIDFILE"; } | tee "$STATE/env"
