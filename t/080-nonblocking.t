#!/usr/bin/perl

# Nothing blocks the worker: with one worker and Synapse slow for one
# token, ungated requests and other admins are answered while that token
# waits; a client that goes away mid-verification leaves no trace.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use AdminTest qw(parse_response);

my $t = AdminTest->new;
my $fs = $t->synapse(tokens => {
    slow_tok => { user => '@admin:test',
                  whoami => [200, '{"user_id":"@admin:test"}', 3] },
});

$t->run(<<'END');
%%TEST_GLOBALS%%

worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;

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

my $p = '/_synapse/admin/v1/users';

for my $n (1 .. 2) {
    my $slow = send_only("GET $p HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer slow_tok\r\nConnection: close\r\n\r\n");

    # wait until the slow whoami is at Synapse, so the worker holds it
    wait_for(sub { $fs->hits(qr/whoami/) >= $n }, 'slow whoami started');

    my $r = $t->get('/_matrix/client/v3/sync');
    is($r->{status}, 200, "ungated request answered meanwhile ($n)");

    $r = $t->get($p, Authorization => 'Bearer adm_tok');
    is($r->{status}, 200, "another admin answered meanwhile ($n)");

    ok(!IO::Select->new($slow)->can_read(0),
        "the slow request is still waiting ($n)");

    my $answer = read_all($slow);
    like($answer, qr{^HTTP/1.1 200 }, "the slow request is allowed ($n)");
}

# the client leaves while its verification is in flight

$fs->clear_log;

for my $n (1 .. 3) {
    my $gone = send_only("GET $p HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer slow_tok\r\n\r\n");
    wait_for(sub { $fs->hits(qr/whoami/) >= $n }, "whoami $n started");
    close $gone;
}

my $r = $t->get($p, Authorization => 'Bearer adm_tok');
is($r->{status}, 200, 'after clients left mid-verification: still serving');

# let the abandoned subrequests finish against the closed clients
sleep 3.5;

$r = $t->get($p, Authorization => 'Bearer adm_tok');
is($r->{status}, 200, 'after the abandoned replies arrived: still serving');
is(scalar grep({ $_->{target} eq $p } $fs->upstream_requests), 2,
    'abandoned requests never reached the upstream');

$t->stop;

done_testing;

###############################################################################

sub send_only {
    my ($raw) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(0),
        Proto => 'tcp') or die "connect: $!";
    $s->syswrite($raw);

    return $s;
}

sub read_all {
    my ($s) = @_;

    my $answer = '';
    my $deadline = time + 20 * $AdminTest::SLOW;

    while (time < $deadline) {
        last unless IO::Select->new($s)->can_read($deadline - time);
        last unless $s->sysread(my $buf, 65536);
        $answer .= $buf;
    }

    return $answer;
}

sub wait_for {
    my ($cond, $name) = @_;

    my $deadline = time + 10 * $AdminTest::SLOW;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.05;
    }

    fail("timed out waiting: $name");
    return 0;
}
