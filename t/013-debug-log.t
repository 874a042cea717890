#!/usr/bin/perl

# No token in any log at any level.  nginx runs at "error_log ... debug",
# where its core writes every request line, argument and header (the
# Authorization header too), and requests carry tokens in every way:
# header and query, admins, users, unknown tokens, over HTTP/1.1 and
# HTTP/2, through the Redis cache with a secret; plus the lines nginx
# writes at info while it reads a request (a duplicate header, an invalid
# or too long header line).  Every log line, every Redis key and every
# value is searched for every token used.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);

use AdminTest qw(http);
use RedisServer;

my @TOKENS = qw(adm_tok usr_tok as_tok never_known_tok_1234
    syt_YWRtaW4_ZmFrZXRva2Vu_0a1b2c);

my $t = AdminTest->new(error_log_level => 'debug', secrets => [@TOKENS]);
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse(tokens => {
    'syt_YWRtaW4_ZmFrZXRva2Vu_0a1b2c' => { user => '@admin:test' },
});

my $file = $t->write_file('secret', 'z' x 40);
chmod 0600, $file;

$t->run(<<'END' =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    large_client_header_buffers 4 1k;

    admin_gate_redis 127.0.0.1:%%REDIS%%;
    admin_gate_redis_timeout %%REDIS_TIMEOUT%%;

    server {
        listen 127.0.0.1:%%PORT_0%%;
        listen 127.0.0.1:%%PORT_1%% http2;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;
        admin_gate_secret_file %%TESTDIR%%/secret;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    # no gate here: its error-log lines are masked all the same, while its
    # $request is its own business
    server {
        listen 127.0.0.1:%%PORT_2%%;

        access_log %%TESTDIR%%/ungated-access.log;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }
    }
}
END

my $p = '/_synapse/admin/v1/users';
my $sent = 0;

for my $n (1 .. 2) {
    for my $tok (@TOKENS) {
        for my $port (0, 2) {
            $t->get_on($port, $p, Authorization => "Bearer $tok");
            $t->get_on($port, "$p?x=1&access_token=$tok");
            $t->get_on($port, "/_matrix/client/v3/sync?access_token=$tok");
            $t->get_on($port, "$p?%61ccess%5Ftoken=$tok;y=2");
            $t->get_on($port, $p, Authorization => "bearer\t$tok");
            $sent += 5;
        }
    }
}

# the revocation path writes too
$t->get('/_synapse/admin/v1/status/401', Authorization => 'Bearer adm_tok');

# lines nginx writes at info while it reads the request

for my $tok (@TOKENS[0, 1]) {
    raw("GET $p?access_token=$tok HTTP/1.1\r\nHost: x\r\n"
        . "Authorization: Bearer $tok\r\nAuthorization: Bearer $tok\r\n"
        . "Connection: close\r\n\r\n");
    raw("GET $p?access_token=$tok HTTP/1.1\r\nHost: x\r\n"
        . "Bad Header: Bearer $tok\r\nConnection: close\r\n\r\n");
    raw("GET $p?access_token=$tok HTTP/1.1\r\nHost: x\r\n"
        . "Authorization: Bearer $tok" . ('x' x 1500) . "\r\n"
        . "Connection: close\r\n\r\n");
    raw("GET $p?access_token=$tok" . ('y' x 1500) . " HTTP/1.1\r\n"
        . "Host: x\r\nConnection: close\r\n\r\n");
    $sent += 4;
}

# HTTP/2

SKIP: {
    skip 'curl without HTTP/2', 1
        unless `curl --version 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;

    for my $tok (@TOKENS) {
        h2("$p?access_token=$tok");
        h2($p, '-H', "Authorization: Bearer $tok");
        $sent += 2;
    }

    pass('HTTP/2 requests sent');
}

ok($sent > 100, "$sent requests carried tokens");

sleep 0.5;

my $log = $t->error_log;
ok(length $log > 100_000, 'the debug log is written (' . length($log)
    . ' bytes)');
like($log, qr/http header: "Authorization: Bearer \*\*\*"/,
    'the Authorization header is there, masked');
like($log, qr/http args: "x=1&access_token=\*\*\*"/,
    'the arguments are there, masked');
like($log, qr/\[info\] .*client sent duplicate header line: "Authorization: Bearer \*\*\*"/,
    'nginx\'s own duplicate-header line, masked');

for my $tok (@TOKENS) {
    unlike($log, qr/\Q$tok\E/, "error log: no \"$tok\"");
    unlike($t->read_file('access.log'), qr/\Q$tok\E/,
        "access log: no \"$tok\"");
}

like($t->read_file('ungated-access.log'), qr/access_token=adm_tok/,
    'a server without the gate: $request untouched in its access log');

my @keys = $redis->cli('--scan');
ok(scalar @keys, 'Redis holds ' . scalar(@keys) . ' keys');

my $dump = join "\n", @keys, map { scalar $redis->cli('GET', $_) } @keys;
for my $tok (@TOKENS) {
    unlike($dump, qr/\Q$tok\E/, "Redis keys and values: no \"$tok\"");
}

$t->stop;

done_testing;

###############################################################################

sub raw {
    my ($request) = @_;
    return http($t->port(0), $request);
}

sub h2 {
    my ($target, @args) = @_;

    my $url = 'http://127.0.0.1:' . $t->port(1) . $target;
    return `curl -s -o /dev/null --http2-prior-knowledge --max-time 20 @{[ map { quotemeta } @args ]} '$url'`;
}
