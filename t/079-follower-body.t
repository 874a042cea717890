#!/usr/bin/perl

# A follower that its own connection wakes first.  A request that follows
# another's Redis lookup is woken by a posted event when the lookup
# lands; an event of its own connection in the same loop iteration (more
# of its body arriving, on a keep-alive connection whose write event is
# registered) may run its phases first, and it goes on to proxy_pass and
# starts reading its body.  The posted wake must then do nothing: running
# the phases again would run the content handler a second time, which
# sends the upstream the body read so far and never the rest (the soak's
# 1 MiB POST that stalled, issue 10).  The worker is stopped while the
# Redis reply and more of the body arrive, so that it finds both in one
# batch of events, the reply first.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep time);

use AdminTest qw(parse_response read_answer);
use RedisServer;

my $S = $AdminTest::SLOW;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse;

$t->run(<<"END" =~ s/%%REDIS%%/$redis->port/ger);
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
        admin_gate_redis 127.0.0.1:%%REDIS%%;
        admin_gate_redis_timeout 5s;

        add_header X-Cache \$admin_gate_cache always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }
}
END

my $path = '/_synapse/admin/v1/users';
my $size = 100000;
my $body = join '', map { chr(ord('a') + $_ % 26) } 0 .. $size - 1;

###############################################################################

# the verdict in Redis (SET NX is not waited for: until a GET finds it)

my $cache = '';
for (1 .. 50) {
    my $r = $t->get($path, Authorization => 'Bearer adm_tok');
    $cache = $r->{headers}{'x-cache'}[0] // '';
    last if $cache eq 'HIT';
    sleep 0.1;
}
is($cache, 'HIT', 'the verdict is in Redis');

for my $round (1 .. 2) {

    # the follower's connection has been proxied once: its write event
    # is registered, and an event for its reading carries it too

    my $f = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(0))
        or die "connect: $!";
    $f->syswrite("GET $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer adm_tok\r\n\r\n");
    is(read_response($f)->{status}, 200,
        "round $round: keep-alive request answered");

    # the leader waits for Redis (frozen); the follower joins its flight
    # with a part of its body

    $redis->pause;

    my $l = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port(0))
        or die "connect: $!";
    $l->syswrite("GET $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer adm_tok\r\nConnection: close\r\n\r\n");
    sleep 0.3 * $S;

    $f->syswrite("POST $path HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer adm_tok\r\nConnection: close\r\n"
        . "Content-Length: $size\r\n\r\n" . substr($body, 0, 1000));
    sleep 0.3 * $S;

    # the worker stopped, Redis answers, then more of the body arrives:
    # the worker finds both at once, the reply first

    my @workers = workers($t->{pid});
    is(scalar @workers, 1, "round $round: one worker");
    kill 'STOP', @workers;

    $redis->resume;
    sleep 0.3 * $S;
    $f->syswrite(substr($body, 1000, 1000));
    sleep 0.3 * $S;

    kill 'CONT', @workers;
    sleep 0.3 * $S;

    $f->syswrite(substr($body, 2000));

    my $rl = parse_response(read_answer($l, 5 * $S));
    is($rl->{status}, 200, "round $round: the leader is answered");

    my $rf = parse_response(read_answer($f, 5 * $S));
    is($rf->{status}, 200, "round $round: the follower is answered");

    my $echo = eval { decode_json($rf->{body})->{echo} } || {};
    is(length($echo->{body} // ''), $size,
        "round $round: the upstream got the whole body");
    ok(($echo->{body} // '') eq $body,
        "round $round: the upstream got the body as sent");
}

is(scalar(grep { $_->{method} eq 'POST' } $fs->upstream_requests), 2,
    'the upstream got each POST once');

$t->stop;

done_testing;

###############################################################################

# the worker processes of a master
sub workers {
    my ($master) = @_;

    my @pids;

    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh>;
        close $fh;
        push @pids, $pid
            if $stat =~ /^\d+ \(.*\) \S (\d+)/ && $1 == $master;
    }
    closedir $dh;

    return @pids;
}

# one response on a keep-alive connection, its body by Content-Length
sub read_response {
    my ($s) = @_;

    my $raw = '';
    my $deadline = time + 5 * $S;

    while (time < $deadline) {
        if ($raw =~ /\r\n\r\n/) {
            my ($head) = split /\r\n\r\n/, $raw, 2;
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            last if length($raw) >= length($head) + 4 + ($len // 0);
        }
        last unless IO::Select->new($s)->can_read($deadline - time);
        last unless $s->sysread($raw, 65536, length $raw);
    }

    return parse_response($raw);
}
