#!/usr/bin/env bash
# rt-up.sh — install (when missing) Debian's Request Tracker 5 with sqlite, build a FRESH instance
# in a state folder and start its server (Starlet) on 127.0.0.1 in the background, set up for the
# hub: a risk queue, a report queue, an asset catalog and the custom fields the RT connector uses
# (README "Connect Request Tracker"). Debian 12, as root.
#
# Stdout: KEY=VALUE lines only, for eval:   eval "$(scripts/rt-up.sh)"
# Stderr: progress and timings.
# Knobs: RT_PORT (8080), RT_STATE (${TMPDIR:-/tmp}/usmhub-rt; wiped every run), RT_ROOT_PASSWORD,
#        RT_TOKEN_HEX (32 lowercase hex: a fixed token tests can hard-code), RT_WORKERS (2).
# Stop it with scripts/rt-down.sh (by PID file only).
set -euo pipefail

PORT="${RT_PORT:-8080}"
STATE="${RT_STATE:-${TMPDIR:-/tmp}/usmhub-rt}"
ROOT_PASSWORD="${RT_ROOT_PASSWORD:-rt-e2e-pass}"
TOKEN_HEX="${RT_TOKEN_HEX:-0123456789abcdef0123456789abcdef}"
WORKERS="${RT_WORKERS:-2}"
BASE="http://127.0.0.1:${PORT}"
PIDFILE="${STATE}/rt.pid"
RTLIB=/usr/share/request-tracker5

log() { echo "[rt-up] $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

[ "$(id -u)" = 0 ] || { log "must run as root (it installs packages and runs RT's setup)"; exit 1; }
case "$STATE" in /|/tmp|/var|/usr|/etc|/root|/home|'') log "refusing RT_STATE=$STATE: it is wiped"; exit 1;; esac
[[ "$TOKEN_HEX" =~ ^[0-9a-f]{32}$ ]] || { log "RT_TOKEN_HEX must be 32 lowercase hex characters"; exit 1; }
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  log "already running (pid $(cat "$PIDFILE")); stop it first: scripts/rt-down.sh"; exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then log "port ${PORT} is already in use"; exit 1; fi

# --- install -------------------------------------------------------------------------------
t=$(now)
pkgs="request-tracker5 rt5-db-sqlite rt5-standalone w3m curl"
if [ "$(dpkg-query -W -f='${Status}\n' $pkgs 2>/dev/null | grep -c 'install ok installed')" != 5 ]; then
  log "installing $pkgs (some 260 packages) ..."
  # No database from the package (we make our own), no cron jobs.
  debconf-set-selections <<'PRESEED' || log "warning: debconf preseed failed; the package's defaults apply"
request-tracker5 request-tracker5/dbconfig-install boolean false
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean true
request-tracker5 request-tracker5/rtname string rt.e2e.local
request-tracker5 request-tracker5/organization string e2e.local
request-tracker5 request-tracker5/correspondaddress string rt@e2e.local
request-tracker5 request-tracker5/commentaddress string rt-comment@e2e.local
PRESEED
  apt-get update -q >/dev/null 2>&1 || log "warning: apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs >"${TMPDIR:-/tmp}/usmhub-rt-apt.log" 2>&1 \
    || { tail -40 "${TMPDIR:-/tmp}/usmhub-rt-apt.log" >&2; exit 1; }
  log "apt install took $(since "$t")s"
fi

# --- a fresh configuration and database ---------------------------------------------------------
t=$(now)
rm -rf "$STATE"
# RT_SITE_CONFIG_DIR replaces both RT_SiteConfig.d folders (the package's snippets: dbconfig,
# syslog): empty on purpose, so this instance depends on nothing in /etc.
mkdir -p "$STATE/siteconfig.d"
cat >"$STATE/RT_SiteConfig.pm" <<CONF
Set(\$rtname, 'rt.e2e.local');
Set(\$Organization, 'e2e.local');
Set(\$CorrespondAddress, 'rt@e2e.local');
Set(\$CommentAddress, 'rt-comment@e2e.local');
Set(\$WebDomain, '127.0.0.1');
Set(\$WebPort, ${PORT});
Set(\$WebPath, '');
Set(\$DatabaseType, 'SQLite');
Set(\$DatabaseName, '${STATE}/rt5.db');
Set(\$DatabaseHost, '');
Set(\$DatabaseUser, '');
Set(\$DatabasePassword, '');
Set(\$Timezone, 'UTC');
Set(\$LogToSyslog, undef);
Set(\$LogToSTDERR, 'warning');
Set(\$MailCommand, 'testfile');
# A throwaway test instance: the cheapest bcrypt RT allows, so checking the token on every
# request costs milliseconds instead of ~0.4 s (RT's default cost is 12).
Set(\$BcryptCost, 4);
# The USM lifecycle of the risk queue: the hub's statuses by their names (so the sync needs no
# map_status) and the hub's flow, but for one local rule of this service desk: work that has
# started (in_progress) is not rejected in RT; it goes back to accepted first. The hub allows
# that step, so a push of it is refused by RT (answered 200 with a message), which e2e/rt proves.
Set(%Lifecycles,
    usm => {
        type        => 'ticket',
        initial     => [qw(proposed)],
        active      => [qw(accepted planned in_progress)],
        inactive    => [qw(realized rejected deleted)],
        defaults    => { on_create => 'proposed' },
        transitions => {
            ''          => [qw(proposed accepted planned in_progress realized rejected)],
            proposed    => [qw(accepted rejected deleted)],
            accepted    => [qw(proposed planned rejected deleted)],
            planned     => [qw(accepted in_progress rejected deleted)],
            in_progress => [qw(accepted realized)],
            realized    => [qw(in_progress)],
            rejected    => [qw(proposed deleted)],
            deleted     => [qw(proposed)],
        },
        rights  => { '* -> deleted' => 'DeleteTicket', '* -> *' => 'ModifyTicket' },
        actions => [],
    },
);
1;
CONF
export RT_SITE_CONFIG="$STATE/RT_SiteConfig.pm" RT_SITE_CONFIG_DIR="$STATE/siteconfig.d"

cat >"$STATE/setup.pl" <<'PERL'
use strict; use warnings;
use lib '/usr/local/share/request-tracker5/lib', '/usr/share/request-tracker5/lib';
use RT;
RT::LoadConfig();
RT::Init();
my ($ok, $msg);
my $root = RT::User->new(RT->SystemUser);
$root->Load('root') or die "no root user";
($ok, $msg) = $root->SetPassword($ENV{RT_ROOT_PASSWORD}); die "SetPassword: $msg" unless $ok;

# A token of a known value: AuthToken->Create stores only a hash of a random secret that
# _GenerateToken makes; for this one call it makes ours.
my $authstring;
{
    no warnings 'redefine';
    local *RT::AuthToken::_GenerateToken = sub { lc $ENV{RT_TOKEN_HEX} };
    my $tok = RT::AuthToken->new(RT::CurrentUser->new($root));
    (my $id, $msg, $authstring) = $tok->Create(Owner => $root->id, Description => 'usmhub e2e');
    die "token: $msg" unless $id;
}

# No mail from this throwaway instance: its notification scrips only compose messages for
# MailCommand 'testfile' and made a ticket create cost ~0.8 s instead of ~0.2 s. The scrips
# that change tickets (open on correspond, SLA dates) stay on, as in a real RT.
my $scrips = RT::Scrips->new(RT->SystemUser);
$scrips->UnLimit;
while (my $s = $scrips->Next) {
    next unless $s->ActionObj->Name =~ /^(Notify|Autoreply|Send Forward)/;
    ($ok, $msg) = $s->SetDisabled(1); die "scrip " . $s->Description . ": $msg" unless $ok;
}

# A second user, to own risks and assets.
my $ops = RT::User->new(RT->SystemUser);
($ok, $msg) = $ops->Create(Name => 'ops', EmailAddress => 'ops@e2e.local', Privileged => 1);
die "user ops: $msg" unless $ok;
$ops->PrincipalObj->GrantRight(Right => 'OwnTicket', Object => RT->System);

my %queue;
for my $name ('Risks', 'Reports') {
    my $q = RT::Queue->new(RT->SystemUser);
    ($ok, $msg) = $q->Create(Name => $name, Description => 'usmhub', $name eq 'Risks' ? (Lifecycle => 'usm') : ());
    die "queue $name: $msg" unless $ok;
    $queue{$name} = $q;
}
# Ticket custom fields.
for my $cf (['USM marker', 'FreeformSingle'], ['USM key', 'FreeformSingle'], ['USM kind', 'FreeformSingle'],
            ['USM process', 'FreeformSingle'], ['USM source', 'FreeformSingle'], ['USM likelihood', 'FreeformSingle'],
            ['USM impact', 'FreeformSingle'], ['USM effort', 'FreeformSingle'], ['USM description', 'Text'], ['USM report key', 'FreeformSingle']) {
    my $c = RT::CustomField->new(RT->SystemUser);
    ($ok, $msg) = $c->Create(Name => $cf->[0], Type => $cf->[1], LookupType => RT::Ticket->CustomFieldLookupType);
    die "cf $cf->[0]: $msg" unless $ok;
    # Applied to every queue (queue 0), so queues made later (tests make their own) have them.
    ($ok, $msg) = $c->AddToObject(RT::Queue->new(RT->SystemUser)); die "cf apply: $msg" unless $ok;
}
# The asset catalog of the BIR, with the item key as an asset custom field.
my $cat = RT::Catalog->new(RT->SystemUser);
($ok, $msg) = $cat->Create(Name => 'Infrastructure', Description => 'configuration items');
die "catalog: $msg" unless $ok;
for my $name ('USM key', 'USM type') {
    my $c = RT::CustomField->new(RT->SystemUser);
    ($ok, $msg) = $c->Create(Name => $name, Type => 'FreeformSingle', LookupType => RT::Asset->CustomFieldLookupType);
    die "asset cf $name: $msg" unless $ok;
    # Applied to every catalog (catalog 0), so catalogs made later (tests make their own) have them.
    ($ok, $msg) = $c->AddToObject(RT::Catalog->new(RT->SystemUser)); die "asset cf apply: $msg" unless $ok;
}

print "RT_TOKEN=$authstring\n";
print "RT_QUEUE=Risks\n";
print "RT_REPORT_QUEUE=Reports\n";
print "RT_CATALOG=Infrastructure\n";
PERL

cd "$STATE"
rt-setup-database-5 --action init --skip-create >"$STATE/init.log" 2>&1 || { tail -40 "$STATE/init.log" >&2; exit 1; }
grep -q 'Done inserting data' "$STATE/init.log" || { tail -40 "$STATE/init.log" >&2; exit 1; }
RT_ROOT_PASSWORD="$ROOT_PASSWORD" RT_TOKEN_HEX="$TOKEN_HEX" perl "$STATE/setup.pl" >"$STATE/setup.out" 2>>"$STATE/init.log" \
  || { tail -40 "$STATE/init.log" >&2; exit 1; }
TOKEN=$(sed -n 's/^RT_TOKEN=//p' "$STATE/setup.out")
log "database set up in $(since "$t")s"

# --- the server, on loopback ------------------------------------------------------------------
t=$(now)
# setsid does not fork here (a background job is no group leader): $! is the Starlet master.
nohup setsid "$RTLIB/libexec/rt-server" --server Starlet --host 127.0.0.1 --port "$PORT" \
  --max-workers "$WORKERS" >"$STATE/server.log" 2>&1 </dev/null &
echo $! >"$PIDFILE"
code=000
for _ in $(seq 1 240); do
  if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then log "the server died:"; tail -40 "$STATE/server.log" >&2; exit 1; fi
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: token $TOKEN" "$BASE/REST/2.0/rt" || true)
  [ "$code" = 200 ] && break
  sleep 0.25
done
[ "$code" = 200 ] || { log "not ready after 60s (last HTTP $code)"; tail -40 "$STATE/server.log" >&2; exit 1; }
log "server ready after $(since "$t")s (pid $(cat "$PIDFILE"), $WORKERS workers)"

{ echo "RT_URL=$BASE"; cat "$STATE/setup.out"; echo "RT_PIDFILE=$PIDFILE"; } | tee "$STATE/env"
