#!/usr/bin/perl

# Connecting to Redis: requirepass with password=, an ACL user with
# username=, a unix socket, db=; a wrong password is an outage (answers
# still come from Synapse) and says why; a lookup the ACL refuses is
# logged once per connection; through a Sentinel, an ACL user needs
# +role, and the log says so when it lacks it; the password never
# reaches a log; nginx -t refuses a malformed admin_gate_redis.

use strict;
use warnings;

use lib 't/lib';
use Test::More;

use AdminTest;
use RedisServer;
use RedisSentinel;

my $t = AdminTest->new(secrets => ['s3cret-pw', 'alice-pw', 'carol-pw',
    'dave-pw']);

my $redis = RedisServer->new(dir => $t->testdir, requirepass => 's3cret-pw',
    unixsocket => 1,
    extra => ['user alice on >alice-pw ~gate:* +get +set +del +ping +select',
              'user carol on >carol-pw ~gate:* +get +set +del +ping +select',
              'user dave on >dave-pw ~gate:* +get +set +del +ping +select'
                  . ' +role',
              'user default on >s3cret-pw ~* +@all'])->start;

# a Sentinel that names this Redis as the master "gate"
my $sentinel = RedisSentinel->new(dir => $t->testdir, master => $redis->port,
    extra => ['sentinel auth-pass gate s3cret-pw'])->start;

my $fs = $t->synapse;

my $at = '127.0.0.1:' . $redis->port;
my $via = 'sentinel=127.0.0.1:' . $sentinel->port . ' master=gate';

my %servers = (
    0 => "$at password=s3cret-pw",
    1 => "$at username=alice password=alice-pw",
    2 => "$at password=s3cret-pw db=3",
    3 => "$at password=wrong",
    4 => $at,
    5 => 'unix:' . $redis->socket . ' password=s3cret-pw',
    6 => "$at username=alice password=alice-pw",
    # through the Sentinel, as carol (no +role) and as dave (+role)
    7 => "$via username=carol password=carol-pw",
    8 => "$via username=dave password=dave-pw",
);

# alice's keys are gate:*: server 6's prefix is refused (NOPERM)
my %prefix = (6 => 'other:6:');

my $servers = '';

for my $n (sort keys %servers) {
    $servers .= <<"END";
    server {
        listen 127.0.0.1:%%PORT_$n%%;

        admin_gate_redis $servers{$n};
        admin_gate_key_prefix ${\($prefix{$n} // "gate:$n:")};

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }

END
}

$t->run(<<"END");
%%TEST_GLOBALS%%

worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate on;
    admin_gate_verify /_admin_gate_verify;
    admin_gate_redis_timeout %%REDIS_TIMEOUT%%;
    add_header X-Cache "[\$admin_gate_cache]" always;

$servers
}
END

for my $case ([0, 'requirepass, password='], [1, 'ACL user, username='],
    [2, 'db=3'], [5, 'unix socket'], [8, 'Sentinel, ACL user with +role'])
{
    my ($port, $name) = @$case;

    is(cache($port), 'MISS', "$name: a miss first");
    is(cache($port), 'HIT', "$name: then a hit");
}

my @db0 = $redis->cli('--scan');
my @db3 = $redis->cli('-n', 3, '--scan');
ok(!grep({ /^gate:2:/ } @db0), 'db=3: nothing in database 0');
is(scalar(grep { /^gate:2:[0-9a-f]{64}$/ } @db3), 1, 'db=3: the key is in 3');
ok(scalar(grep { /^gate:1:/ } @db0), 'ACL user: wrote under its key pattern');

for my $case ([3, 'wrong password'], [4, 'no password'])
{
    my ($port, $name) = @$case;

    for my $n (1 .. 2) {
        my $r = get($port);
        is($r->{status}, 200, "$name: the admin still passes ($n)");
        is($r->{headers}{'x-cache'}[0], '[ERROR]', "$name: cache ERROR ($n)");
    }
}

like($t->error_log, qr/is unavailable: handshake refused/,
    'refused AUTH: logged');

# a lookup Redis refuses (an ACL whose keys miss the prefix): Synapse
# answers, the refusal is logged once for the connection, not per lookup

for my $n (1 .. 3) {
    my $r = get(6);
    is($r->{status}, 200, "refused GET: the admin still passes ($n)");
    is($r->{headers}{'x-cache'}[0], '[ERROR]', "refused GET: cache ERROR ($n)");
}

is(scalar(() = $t->error_log =~ /admin gate redis "127\.0\.0\.1:\d+" refused a lookup: NOPERM/g),
    1, 'refused GET: logged once for the connection');

# through the Sentinel, an ACL user without +role cannot confirm the
# master with ROLE: an outage, and the log says why

for my $n (1 .. 2) {
    my $r = get(7);
    is($r->{status}, 200, "ROLE refused: the admin still passes ($n)");
    is($r->{headers}{'x-cache'}[0], '[ERROR]', "ROLE refused: cache ERROR ($n)");
}

like($t->error_log, qr/is unavailable: ROLE refused \(an ACL without \+role\?\)/,
    'ROLE refused: logged as such');
unlike($t->error_log, qr/not a master/, 'ROLE refused: not "not a master"');
ok(!grep({ /^gate:7:/ } $redis->cli('--scan')), 'ROLE refused: nothing stored');

$t->stop;
$sentinel->stop;

# configuration errors

for my $case (['127.0.0.1:1 db=x', qr/invalid redis database "db=x"/],
    ['127.0.0.1:1 size=3', qr/invalid parameter "size=3"/],
    ['127.0.0.1:1 username=u',
        qr/"admin_gate_redis" directive has "username=" without "password="/],
    ['127.0.0.1:99999', qr/invalid port in redis address "127.0.0.1:99999"/],
    ['127.0.0.1:1; admin_gate_redis 127.0.0.1:2',
        qr/"admin_gate_redis" directive is duplicate/],
    ['127.0.0.1:1; admin_gate_redis_failure maybe',
        qr/invalid value "maybe" in .*nginx.conf:12/],
    ['127.0.0.1:1; admin_gate_cache_ttl forever',
        qr/"admin_gate_cache_ttl" directive invalid value/])
{
    my ($args, $re) = @$case;

    my ($rc, $out) = $t->test_config(<<"END");
%%TEST_GLOBALS%%

events {
}

http {
    server {
        listen 127.0.0.1:%%PORT_9%%;
        admin_gate_redis $args;
    }
}
END

    isnt($rc, 0, "nginx -t refuses: admin_gate_redis $args");
    like($out, $re, "nginx -t says why: admin_gate_redis $args");
}

done_testing;

###############################################################################

sub get {
    my ($port) = @_;
    return $t->get_on($port, '/_synapse/admin/v1/users',
        Authorization => 'Bearer adm_tok');
}

sub cache {
    my $r = get(@_);
    return ($r->{headers}{'x-cache'}[0] // '') =~ s/^\[|\]$//gr;
}
