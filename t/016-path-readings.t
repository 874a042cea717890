#!/usr/bin/perl

# A request is gated when any reading of its target falls under a gated
# prefix: the raw target as sent, the raw target percent-decoded (dot
# segments kept), its canonical form (decoded, dot segments resolved,
# slashes merged), and the URI after rewrites; in any letter case.
# A target that starts under /_synapse/admin and climbs out of it with
# %2F or dot segments stays gated: "proxy_pass" without a URI part sends
# the raw target, and Synapse routes on the raw path.  Three servers: the
# raw target forwarded (0), nginx's normalized URI forwarded (1), and the
# raw target under "merge_slashes off" (2).  nginx itself answers 400 to a
# ".." that climbs above the root; nothing reaches Synapse then either.
# Paths that touch the prefix in no reading stay open; paths that climb
# into it from outside stay gated.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;

use AdminTest qw(http parse_response);

my $t = AdminTest->new;
my $fs = $t->synapse;

$t->run(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        rewrite ^/_synapse/admin/v1/moved$ /elsewhere last;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /inside/ {
            rewrite ^/inside(/.*)$ /_synapse/admin$1 break;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%/;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_2%%;

        merge_slashes off;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }
}
END

# server => [merge_slashes, the upstream gets the raw target]

my %server = (0 => [1, 1], 1 => [1, 0], 2 => [0, 1]);

# each starts under /_synapse/admin and resolves outside it

my @escaping = (
    '/_synapse/admin/v1/users/x%2F..%2F..%2F..%2F..',
    '/_synapse/admin/v2/users/%2F..%2F..%2F..%2F_matrix',
    '/_synapse/admin/..%2F..%2Fx',
    '/_synapse/admin/..%2fx',
    '/_synapse/admin/%2e%2e/%2e%2e/x',
    '/_synapse/admin/./../../x',
    '/_synapse/admin/../../../x',
    '/_synapse/admin/v1/rooms/..%2f..%2f..%2f_matrix/client/v3/sync',
    '/_SYNAPSE/ADMIN/%2E%2E/x',
    '/_Synapse/Admin/v1/x%2F..%2F..%2F..%2Fy',
    '/_synapse/admin/..',
    '/_synapse/admin/%2e%2e',
    '/_synapse/admin/../x',
    '/_synapse/admin/%2E%2e/x',
    '/_synapse/admin/.%2e/x',
    '/_synapse/admin/%2e./x',
    '/_synapse/admin%2F..%2Fx',
    '/_synapse/admin/v1/users/x/..%2F..%2F..%2F..%2Fy',
    '/_synapse/admin/v1/users/x%2F../../..%2F..%2Fy',
    '/_synapse/admin/v1/media/x%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fy',
    '/_synapse/admin/v1/%2e%2e%2f%2e%2e%2f%2e%2e%2f_matrix/client/v3/sync',
    '/_synapse/admin/v1/./../.././x',
    '/_synapse/admin/./%2e%2e/./%2E%2E/x',
    '/_synapse/admin/v1/users/%2e%2e/%2e%2e/%2e%2e/x',
    '/_synapse/admin/%2E%2E%2Fx%2F',
    '/_synapse/admin/v1/rooms/!r:test%2F..%2F..%2F..%2F..%2F..%2F_matrix'
        . '/client/v3/rooms/!r:test/state',
    '/_synapse/admin//../../../x',
    '/_synapse/admin/%2F%2F..%2F..%2F..%2Fx',
    '/_synapse/admin/v1/users/x%2F..%2F..%2F..%2F..%2F..%2F..',
    '/_synapse/admin/v1/users/x%2F..%2F..%2F..%2F..?limit=10&dir=b',
    '/_synapse/admin/..%2F..%2F_matrix/client/v3/sync?since=s1',
    '/_synapse/admin/%2e%2e/x?next=/_synapse/admin/v1/users',
);

# escaping targets that an admin sends through every server

my @forwarded = (
    '/_synapse/admin/v1/users/x%2F..%2F..%2F..%2F..?limit=10&dir=b',
    '/_synapse/admin/v1/rooms/..%2f..%2f..%2f_matrix/client/v3/sync',
    '/_SYNAPSE/ADMIN/%2E%2E/x',
    '/_synapse/admin/./../../x',
);

# under /_synapse/admin in no reading

my @open = (
    '/_matrix/client/v3/sync',
    '/_matrix/client/v3/rooms/%21abc%2Fdef/state',
    '/_matrix/client/v3/x/../sync',
    '/_synapse/client/%2e%2e/x',
    '/_matrix/client/v3/rooms/%21r%3Atest/state/m.room.member/%40u%3Atest',
    '/_matrix/media/v3/download/test/a%2F..%2F..%2Fb',
    '/_matrix/client/v3/user/%40u%3Atest/account_data/x%2F..%2F..%2F..',
    '/_matrix/client/v3/x/%2E%2E%2F%2E%2E%2Fsync',
    '/_synapse/client/./x/%2e/y',
    '/_synapse/%2e%2e/_matrix/client/v3/sync',
    '/_synapse/client/..%2F..%2F_matrix/client/v3/sync',
    '/_synapse/admi%2F..%2Fclient',
    '/_matrix/client/v3/sync?since=s1&next=/_synapse/admin/v1/users',
);

# outside /_synapse/admin as sent, inside once resolved

my @into = (
    '/x/..%2F_synapse/admin/v1/users',
    '/_matrix/%2e%2e/_synapse/admin/v1/users',
    '/_synapse/client/..%2Fadmin/v1/users',
    '/_matrix/client/v3/..%2F..%2F..%2F_SYNAPSE/ADMIN/v1/users',
    '/_matrix/./%2e%2e/_synapse/%61dmin/v1/users?x=1',
);

# the lists are what they claim to be

for my $target (@escaping) {
    my ($raw, undef, $canonical) = readings($target);
    ok(under($raw) && !under($canonical),
        "$target starts under /_synapse/admin and resolves outside it");
}

for my $target (@open) {
    ok(!(grep { under($_) } readings($target)),
        "$target is outside /_synapse/admin in every reading");
}

for my $target (@into) {
    my ($raw, undef, $canonical) = readings($target);
    ok(!under($raw) && under($canonical),
        "$target starts outside /_synapse/admin and resolves inside it");
}

# no token: the gate answers 401, or nginx 400; Synapse sees nothing

for my $n (0 .. 2) {
    for my $target (@escaping) {
        refused($n, $target, "escaping target $target");
    }
}

for my $n (0 .. 2) {
    for my $target (@into) {
        refused($n, $target, "target $target climbing into the prefix");
    }
}

# an admin is verified and forwarded: the gate refuses no admin

for my $n (0 .. 2) {
    for my $target (@forwarded) {
        for my $i (1 .. 2) {
            $fs->clear_log;
            my $r = $t->get_on($n, $target, Authorization => 'Bearer adm_tok');
            is($r->{status}, 200,
                "escaping target $target passes an admin (server $n, $i)");
            is($fs->whoami_hits . '/' . $fs->admin_hits, '1/1',
                "$target: the admin is verified (server $n, $i)");

            my @up = map { $_->{target} } $fs->upstream_requests;
            is_deeply(\@up, [ upstream_target($n, $target) ],
                "$target: forwarded once (server $n, $i)");
        }
    }
}

# paths that never touch the prefix stay open

for my $n (0 .. 2) {
    for my $target (@open) {
        for my $i (1 .. 2) {
            $fs->clear_log;
            my $r = $t->get_on($n, $target);
            is($r->{status}, 200, "$target is not gated (server $n, $i)");

            my @all = map { $_->{target} } $fs->requests;
            is_deeply(\@all, [ upstream_target($n, $target) ],
                "$target: reaches the upstream only (server $n, $i)");
        }
    }
}

# rewrites: a raw target under the prefix stays gated when the URI leaves
# it, and a URI rewritten into the prefix is gated

refused(0, '/_synapse/admin/v1/moved',
    'target /_synapse/admin/v1/moved rewritten to /elsewhere');
refused(0, '/inside/v1/users', 'target /inside/v1/users rewritten inside');

for my $i (1 .. 2) {
    $fs->clear_log;
    my $r = $t->get('/_synapse/admin/v1/moved',
        Authorization => 'Bearer adm_tok');
    is($r->{status}, 200, "rewritten away: an admin passes ($i)");
    is_deeply([ map { $_->{target} } $fs->upstream_requests ],
        ['/elsewhere'], "rewritten away: the upstream gets /elsewhere ($i)");

    $fs->clear_log;
    $r = $t->get('/inside/v1/users', Authorization => 'Bearer adm_tok');
    is($r->{status}, 200, "rewritten inside: an admin passes ($i)");
    is_deeply([ map { $_->{target} } $fs->upstream_requests ],
        ['/_synapse/admin/v1/users'],
        "rewritten inside: the upstream gets the admin path ($i)");

    $fs->clear_log;
    $r = $t->get('/elsewhere');
    is($r->{status}, 200, "/elsewhere itself is not gated ($i)");
}

# OPTIONS stays ungated, even on an escaping target

for my $i (1 .. 2) {
    $fs->clear_log;
    my $r = $t->request('OPTIONS', '/_synapse/admin/..%2F..%2Fx');
    is($r->{status}, 200, "OPTIONS on an escaping target passes ($i)");
    is_deeply([ map { $_->{target} } $fs->requests ],
        ['/_synapse/admin/..%2F..%2Fx'],
        "OPTIONS on an escaping target: Synapse not asked ($i)");
}

# absolute form: the path of the target is what counts

for my $i (1 .. 2) {
    $fs->clear_log;
    my $r = parse_response(http($t->port(0),
        "GET http://localhost/_synapse/admin/..%2F..%2Fx HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n\r\n"));
    is($r->{status}, 401, "absolute-form escaping target is gated ($i)");
    is(errcode($r), 'M_MISSING_TOKEN',
        "absolute-form escaping target: missing token ($i)");
    is(scalar $fs->requests, 0,
        "absolute-form escaping target: nothing reaches Synapse ($i)");
}

$t->stop;

done_testing;

###############################################################################

# a tokenless request, twice: 401 M_MISSING_TOKEN from the gate, or 400
# from nginx where its normalization climbs above the root; either way
# Synapse receives nothing

sub refused {
    my ($n, $target, $what) = @_;

    my $bad = !defined nginx_uri($target, $server{$n}[0]);

    for my $i (1 .. 2) {
        $fs->clear_log;
        my $r = $t->get_on($n, $target);

        if ($bad) {
            is($r->{status}, 400, "$what is refused by nginx (server $n, $i)");
            like($r->{body}, qr{<title>400 Bad Request</title>.*>nginx\b}s,
                "$what: nginx's own 400 page (server $n, $i)");

        } else {
            is($r->{status}, 401, "$what is gated (server $n, $i)");
            is(errcode($r), 'M_MISSING_TOKEN',
                "$what: missing token (server $n, $i)");
        }

        is(scalar $fs->requests, 0,
            "$what: nothing reaches Synapse (server $n, $i)");
    }
}

# what the upstream of server $n receives for $target: the raw target, or
# nginx's normalized URI (proxy_pass with a URI part)

sub upstream_target {
    my ($n, $target) = @_;

    return $target if $server{$n}[1];

    my ($path, $query) = split /\?/, $target, 2;

    return nginx_uri($target, $server{$n}[0])
        . (defined $query ? "?$query" : '');
}

# the readings of a target: (raw path, decoded, canonical, canonical with
# slashes kept); ".." stops at the root

sub readings {
    my ($target) = @_;

    my ($raw) = split /\?/, $target, 2;
    my $decoded = unescape($raw);

    return ($raw, $decoded, (resolve($decoded, 1))[0],
        (resolve($decoded, 0))[0]);
}

sub under {
    my ($path) = @_;
    return $path =~ m{^/_synapse/admin}i;
}

# nginx's URI for a target, or undef where nginx answers 400

sub nginx_uri {
    my ($target, $merge) = @_;

    my ($raw) = split /\?/, $target, 2;
    my ($path, $above) = resolve(unescape($raw), $merge);

    return $above ? undef : $path;
}

# dot segments resolved as nginx does (a "." or ".." last leaves a "/");
# empty segments dropped when merging.  (path, whether ".." climbed above
# the root)

sub resolve {
    my ($path, $merge) = @_;

    my (@out, $above, $dir);

    for my $seg (split m{/}, substr($path, 1), -1) {
        $dir = 0;

        if ($seg eq '.' || $seg eq '..') {
            $dir = 1;

            if ($seg eq '..') {
                $above = 1 unless @out;
                pop @out;
            }

            next;
        }

        if ($seg eq '' && $merge) {
            $dir = 1;
            next;
        }

        push @out, $seg;
    }

    my $out = '/' . join('/', @out);
    $out .= '/' if $dir && $out !~ m{/$};

    return ($out, $above);
}

sub unescape {
    my ($s) = @_;
    $s =~ s/%([0-9a-fA-F]{2})/chr hex $1/ge;
    return $s;
}

sub errcode {
    my ($r) = @_;
    return eval { decode_json($r->{body})->{errcode} } // '';
}
