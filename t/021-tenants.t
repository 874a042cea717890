#!/usr/bin/perl

# Homeservers behind one nginx and one Redis keep their verdicts apart by
# default: the key prefix is "admin_gate:<server name>:", made unique
# ("#2") where two servers would share it.  An admin token of homeserver A
# gets no cache hit at homeserver B, and B's refusal leaves A's verdict
# alone.  nginx -t warns when two servers share a Redis and a prefix that
# not both set in their own server block.

use strict;
use warnings;

use lib 't/lib';
use Test::More;

use AdminTest;
use RedisServer;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;

my $a = $t->synapse(name => 'a');
# homeserver B does not know A's admin token
my $b = $t->synapse(name => 'b', tokens => { adm_tok => undef });

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

    server {
        listen 127.0.0.1:%%PORT_0%%;
        server_name hs-a.test;

        add_header X-Cache "[$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE_a%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE_a%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name hs-b.test;

        add_header X-Cache "[$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE_b%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE_b%%$admin_gate_verify_uri;
        }
    }

    # two servers without a name: "admin_gate:_:" and "admin_gate:_#2:"

    server {
        listen 127.0.0.1:%%PORT_2%%;

        add_header X-Cache "[$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE_a%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE_a%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_3%%;

        add_header X-Cache "[$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE_b%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE_b%%$admin_gate_verify_uri;
        }
    }
}
END

my $p = '/_synapse/admin/v1/users';

# A's admin, then the same token at B: B's Synapse decides, not A's verdict

for my $n (1 .. 2) {
    my $r = $t->get_on(0, $p, Authorization => 'Bearer adm_tok');
    is($r->{status}, 200, "A: its admin passes ($n)");
    is($r->{headers}{'x-cache'}[0], $n == 1 ? '[MISS]' : '[HIT]',
        "A: cached ($n)");
}

$b->clear_log;

for my $n (1 .. 2) {
    my $r = $t->get_on(1, $p, Authorization => 'Bearer adm_tok');
    is($r->{status}, 401, "B: A's admin token is unknown there ($n)");
    is($r->{headers}{'x-cache'}[0], $n == 1 ? '[MISS]' : '[HIT]',
        "B: a miss, then its own refusal, never A's verdict ($n)");
}

is($b->whoami_hits, 1, "B: its own Synapse was asked");
is(scalar $b->upstream_requests, 0, 'B: nothing reached its upstream');

my $r = $t->get_on(0, $p, Authorization => 'Bearer adm_tok');
is($r->{headers}{'x-cache'}[0], '[HIT]', "A: B's refusal left A's verdict");

like($redis->cli('GET', 'admin_gate:hs-a.test:' . sha('adm_tok')),
    qr/^AG1 a /, 'A: its key is "admin_gate:hs-a.test:<sha>"');
like($redis->cli('GET', 'admin_gate:hs-b.test:' . sha('adm_tok')),
    qr/^AG1 u /, 'B: its key is "admin_gate:hs-b.test:<sha>"');

# the nameless servers: unique defaults too

for my $n (1 .. 2) {
    $r = $t->get_on(2, $p, Authorization => 'Bearer adm_tok');
    is($r->{status}, 200, "nameless 1: its admin passes ($n)");
    $r = $t->get_on(3, $p, Authorization => 'Bearer adm_tok');
    is($r->{status}, 401, "nameless 2: not its admin ($n)");
}

like($redis->cli('GET', 'admin_gate:_:' . sha('adm_tok')), qr/^AG1 a /,
    'nameless 1: "admin_gate:_:"');
like($redis->cli('GET', 'admin_gate:_#2:' . sha('adm_tok')),
    qr/^AG1 u /, 'nameless 2: "admin_gate:_#2:"');

$t->stop;

# nginx -t: sharing on purpose, by accident, and not at all

my $warning = qr/\[warn\] admin_gate: the servers "[^"]*" in \S+:\d+ and "[^"]*" in \S+:\d+ share their cached verdicts \(redis "127\.0\.0\.1:\d+", admin_gate_key_prefix "shared:"\)/;

my ($rc, $out) = check(http => 'admin_gate_key_prefix shared:;',
    a => '', b => '');
is($rc, 0, 'a prefix from the http level: nginx -t passes');
like($out, $warning, 'a prefix from the http level: a warning');

($rc, $out) = check(http => '', a => 'admin_gate_key_prefix shared:;',
    b => 'admin_gate_key_prefix shared:;');
is($rc, 0, 'the same prefix set in both servers: nginx -t passes');
unlike($out, qr/\[warn\]/, 'the same prefix set in both servers: no warning');

($rc, $out) = check(http => '', a => 'admin_gate_key_prefix shared:;',
    b => '');
unlike($out, qr/\[warn\]/, 'a default never meets a prefix set elsewhere');

($rc, $out) = check(http => 'admin_gate_key_prefix shared:;',
    a => '', b => 'admin_gate_redis 127.0.0.1:%%PORT_9%%;');
unlike($out, qr/\[warn\]/, 'the same prefix on another Redis: no warning');

($rc, $out) = check(http => 'admin_gate_key_prefix shared:;',
    a => '', b => 'admin_gate off;');
unlike($out, qr/\[warn\]/, 'a server without the gate shares nothing');

done_testing;

###############################################################################

sub sha {
    require Digest::SHA;
    return Digest::SHA::sha256_hex($_[0]);
}

sub check {
    my (%o) = @_;

    my $conf = <<"END";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate on;
    admin_gate_verify /_admin_gate_verify;
    admin_gate_redis 127.0.0.1:6379;
    $o{http}

    server {
        listen 127.0.0.1:%%PORT_0%%;
        server_name a.test;
        $o{a}
        location / { proxy_pass http://127.0.0.1:%%PORT_8%%; }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name b.test;
        $o{b}
        location / { proxy_pass http://127.0.0.1:%%PORT_8%%; }
    }
}
END

    return AdminTest->new->test_config($conf);
}
