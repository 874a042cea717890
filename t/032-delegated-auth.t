#!/usr/bin/perl

# The gate in both of Synapse's auth modes, with no setting to choose:
# legacy (admin by the users table) and delegated to Matrix Authentication
# Service (admin by the token's scope; no v1 admin check).  The same
# behaviours in each: allow, deny, unknown token, cache hit, failures not
# cached, revocation.  Under MAS: an admin by scope only passes, an admin
# by the table only does not, an inactive token is Synapse's 401, MAS
# unreachable (503) and a user missing in Synapse (500 M_FORBIDDEN) are
# 503 and never cached.  Verdicts cached before are read as misses.  The
# client-API whois is gated when named in admin_gate_prefix;
# /_synapse/mas is not gated.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;

use AdminTest;
use RedisServer;

my $ADMIN_SCOPE = 'urn:matrix:org.matrix.msc2967.client:api:* '
    . 'urn:synapse:admin:*';
my $USER_SCOPE = 'urn:matrix:org.matrix.msc2967.client:api:*';

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;

my $legacy = $t->synapse(name => 'legacy', tokens => {
    adm2_tok => { user => '@admin:test' },
    err_tok  => { user => '@admin:test', whoami => [500, '{}'] },
});

my $mas = $t->synapse(name => 'mas', auth => 'mas', tokens => {
    # the users table says "@admin:test" is an admin, "@user:test" not
    adm_tok      => { user => '@user:test', scope => $ADMIN_SCOPE },
    adm2_tok     => { user => '@user:test', scope => $ADMIN_SCOPE },
    usr_tok      => { user => '@admin:test', scope => $USER_SCOPE },
    inactive_tok => { user => '@admin:test', scope => $ADMIN_SCOPE,
                      inactive => 1 },
    err_tok      => { user => '@admin:test', scope => $ADMIN_SCOPE,
                      mas_down => 1 },
    missing_tok  => { user => '@admin:test', scope => $ADMIN_SCOPE,
                      missing_user => 1 },
});

$t->run(<<'END' =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate on;
    admin_gate_verify /_admin_gate_verify;
    admin_gate_redis 127.0.0.1:%%REDIS%%;
    admin_gate_redis_timeout %%REDIS_TIMEOUT%%;

    add_header X-Cache "[$admin_gate_cache]" always;

    server {
        listen 127.0.0.1:%%PORT_0%%;
        server_name legacy.test;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE_legacy%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE_legacy%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name mas.test;

        admin_gate_prefix /_synapse/admin
                          /_matrix/client/r0/admin /_matrix/client/v3/admin;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE_mas%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE_mas%%$admin_gate_verify_uri;
        }
    }
}
END

my $p = '/_synapse/admin/v1/users';

my $FORBIDDEN = '{"errcode":"M_FORBIDDEN","error":"You are not a server admin"}';
my $UNAVAILABLE = { errcode => 'M_UNKNOWN',
    error => 'The access token could not be verified, try again later' };

for my $mode ([0, 'legacy', $legacy], [1, 'mas', $mas]) {
    my ($port, $name, $fs) = @$mode;

    # allow, then a hit

    $fs->clear_log;
    for my $n (1 .. 2) {
        my $r = get($port, 'adm_tok');
        is($r->{status}, 200, "$name: an admin passes ($n)");
        is(cache($r), $n == 1 ? 'MISS' : 'HIT', "$name: cached ($n)");
    }
    is($fs->whoami_hits, 1, "$name: the admin verified once");
    is($fs->hits(qr{^/_synapse/admin/v1/users/[^/]+/admin}), 0,
        "$name: the v1 admin check is never asked");

    # deny, then a hit

    for my $n (1 .. 2) {
        my $r = get($port, 'usr_tok');
        is($r->{status}, 403, "$name: a non-admin is refused ($n)");
        is($r->{body}, $FORBIDDEN, "$name: M_FORBIDDEN ($n)");
        is(cache($r), $n == 1 ? 'MISS' : 'HIT', "$name: refusal cached ($n)");
    }

    # unknown token

    for my $n (1 .. 2) {
        my $r = get($port, 'nobody_tok');
        is($r->{status}, 401, "$name: unknown token ($n)");
        is(decode_json($r->{body})->{errcode}, 'M_UNKNOWN_TOKEN',
            "$name: M_UNKNOWN_TOKEN ($n)");
    }

    # a failure is a 503 and never cached

    $fs->clear_log;
    for my $n (1 .. 3) {
        my $r = get($port, 'err_tok');
        is($r->{status}, 503, "$name: Synapse failing: 503 ($n)");
        is_deeply(decode_json($r->{body}), $UNAVAILABLE,
            "$name: Synapse failing: M_UNKNOWN ($n)");
        is(cache($r), 'MISS', "$name: Synapse failing: not cached ($n)");
    }
    is($fs->whoami_hits, 3, "$name: Synapse failing: asked every time");

    # revocation

    get($port, 'adm2_tok');
    my $r = $t->get_on($port, '/_synapse/admin/v1/status/401',
        Authorization => 'Bearer adm2_tok');
    is($r->{status}, 401, "$name: the upstream refuses a cached admin");

    for my $n (1 .. 2) {
        $r = get($port, 'adm2_tok');
        is(cache($r), 'REVOKED', "$name: revoked, verified afresh ($n)");
    }
}

# MAS only: the scope decides, not the users table; Synapse's own errors

my $r = get(1, 'usr_tok');
is($r->{status}, 403, 'mas: an admin by the users table only is refused');

$mas->clear_log;
for my $n (1 .. 2) {
    $r = get(1, 'inactive_tok');
    is($r->{status}, 401, "mas: inactive token: 401 ($n)");
    is_deeply(decode_json($r->{body}), { errcode => 'M_UNKNOWN_TOKEN',
        error => 'Token is not active', soft_logout => JSON::PP::false },
        "mas: inactive token: Synapse's words ($n)");
}

$mas->clear_log;
for my $n (1 .. 3) {
    $r = get(1, 'missing_tok');
    is($r->{status}, 503, "mas: user missing in Synapse (500): 503 ($n)");
    is(cache($r), 'MISS', "mas: user missing: not cached ($n)");
}
is($mas->whoami_hits, 3, 'mas: user missing: asked every time');

like($t->error_log, qr/whoami .* failed: unexpected status \(status 500\)/,
    'mas: the 500 is logged as a failure');

$r = $t->get_on(1, "$p?user_id=%40admin%3Atest", Authorization => 'Bearer as_tok');
is($r->{status}, 403, 'mas: an appservice is never an admin');

# verdicts cached by an earlier version (JSON values) are read as misses,
# never as another verdict; keys of the former default prefix are not read

$redis->cli('SET', 'admin_gate:legacy.test:' . sha('usr_tok'),
    '{"verdict":"allow","user":"@user:test"}', 'EX', 60);
$legacy->clear_log;
$r = get(0, 'usr_tok');
is($r->{status}, 403, 'an allow cached by an earlier version: not believed');
is(cache($r), 'MISS', 'an allow cached by an earlier version: a miss');
is($legacy->whoami_hits, 1, 'an earlier version\'s value: Synapse asked');

$redis->cli('SET', 'admin_gate:' . sha('adm2_tok'),
    '{"verdict":"forbidden","user":"@admin:test"}', 'EX', 60);
$redis->cli('DEL', 'admin_gate:legacy.test:' . sha('adm2_tok'));
$legacy->clear_log;
$r = get(0, 'adm2_tok');
is($legacy->whoami_hits, 1, 'a key of the former default prefix is not read');

# the client-API whois, gated by admin_gate_prefix: admins only, also for
# a user asking about themselves (the cost); /_synapse/mas is MAS's own

for my $v ('r0', 'v3') {
    my $whois = "/_matrix/client/$v/admin/whois/%40admin%3Atest";

    $r = $t->get_on(1, $whois);
    is($r->{status}, 401, "$v whois: gated");
    $r = $t->get_on(1, $whois, Authorization => 'Bearer adm_tok');
    is($r->{status}, 200, "$v whois: an admin passes");
    $r = $t->get_on(1, $whois, Authorization => 'Bearer usr_tok');
    is($r->{status}, 403, "$v whois: a user about themselves is refused");
}

$r = $t->get_on(1, '/_synapse/mas/sync_devices');
is($r->{status}, 200, '/_synapse/mas is not gated');

$t->stop;

done_testing;

###############################################################################

sub get {
    my ($port, $tok) = @_;
    return $t->get_on($port, $p, Authorization => "Bearer $tok");
}

sub cache {
    return ($_[0]->{headers}{'x-cache'}[0] // '') =~ s/^\[|\]$//gr;
}

sub sha {
    require Digest::SHA;
    return Digest::SHA::sha256_hex($_[0]);
}
