#!/usr/bin/perl

# A hostile or broken Redis.  The reply reader takes at most 64 KiB and
# 1024 elements per reply; beyond that, or on a reply hiredis cannot
# parse, the connection is dropped and the request falls back as in an
# outage: verified with Synapse (admin 200, non-admin 403, unknown 401),
# or 503 under admin_gate_redis_failure deny, without waiting for the
# Redis timeout.  Each such reply is logged as an outage with its reason,
# and a good Redis is used again after the reconnect.  Under a stream of
# huge, endless, long or deeply nested replies the worker neither crashes
# nor grows: its peak RSS stays within 16 MiB.
#
# The Redis here is a fake of this file's own: it answers the handshake,
# SET and DEL as Redis would, and GET as the mode file says.
#
# Array headers of 1e9 and 2e9 elements are sent only once one of 1e7 has
# been refused at once: hiredis 0.14 callocs a slot per announced element
# and, when the reply is freed, walks every slot, so a reader without the
# bound stalls its worker for 40-110 s and touches 8-16 GB.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep time);

use AdminTest;

my $S = $AdminTest::SLOW;

# the modes of the fake Redis: what GET gets, the outage's reason, and
# the mode that must have been refused at once before this one is tried
my @HOSTILE = (
    [ 'huge-bulk',       'reply too large', '$200000000, then a stream' ],
    [ 'huge-array',      'reply too large', '*10000000 and no element' ],
    [ 'huge-array-2e9',  'reply too large', '*2000000000 and no element',
      'huge-array' ],
    [ 'endless-array',   'reply too large', '*10000000, then :1 streamed' ],
    [ 'endless-array-1e9', 'reply too large', '*1000000000, then :1 streamed',
      'endless-array' ],
    [ 'many-elements',   'reply too large', '*100000 and 100000 :1' ],
    [ 'deep-nesting',    'invalid reply',   '*1 nested 100000 deep' ],
    [ 'negative-bulk',   'invalid reply',   '$-7' ],
    [ 'negative-array',  'invalid reply',   '*-5' ],
    [ 'garbage-length',  'invalid reply',   '*x' ],
);

# a stream stops here, or when the gate hangs up; 16 MiB of :1 elements
# is less than the 1e7 announced, so the array never ends
my $STREAM_BYTES = 16 * 1024 * 1024;
my $STREAM_SECONDS = 3;

my $t = AdminTest->new;
my $fs = $t->synapse;
my $redis = hostile_redis($t->testdir);

set_mode('good');

$t->run(<<"END");
%%TEST_GLOBALS%%

worker_processes 1;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate on;
    admin_gate_verify /_admin_gate_verify;
    admin_gate_redis 127.0.0.1:$redis->{port};
    admin_gate_redis_timeout 1s;

    server {
        listen 127.0.0.1:%%PORT_0%%;

        add_header X-Cache "[\$admin_gate_cache]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;

        admin_gate_redis_failure deny;

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

my $p = '/_synapse/admin/v1/users';
my $name = "127.0.0.1:$redis->{port}";

ok(wait_for_cache(qr/MISS|HIT/), 'a good Redis: the gate uses it');

my $worker = worker_pid();
ok($worker, 'the worker is found') or diag('no worker under the master');

$t->new_errors;

# every hostile reply, twice, on both servers

my %refused;

for my $h (@HOSTILE) {
    my ($mode, $why, $what, $needs) = @$h;

    SKIP: {
        skip "$what: not sent, since $needs was not refused at once "
            . '(it would stall the worker for minutes)', 1
            if $needs && !$refused{$needs};

        $refused{$mode} = phase($mode, $why, $what);
    }
}

is(worker_pid(), $worker, 'no worker crashed: the same worker serves on');

# the worker's memory under a stream of hostile replies; the rounds above
# were the warm-up of every mode, and their peak is reset, since an
# unbounded reader has set it there already

my $rounds = $S > 1 ? 3 : 20;
my @heavy = ('endless-array', 'huge-bulk', 'many-elements');

my ($hwm_warm) = memory($worker);
my $reset = reset_peak($worker);
my ($hwm0, $rss0) = memory($worker);

my ($answered, $met, $asked) = (0, 0, 0);
my $deadline = time + 300 * $S;

ROUND: for my $round (1 .. $rounds) {
    for my $mode (@heavy) {
        last ROUND if time > $deadline;

        set_mode($mode);
        wait_ready();

        my $before = hostile_replies();
        my $r = get(0, 'adm_tok');

        $asked++;
        $answered++ if $r->{status} == 200;
        $met++ if hostile_replies() > $before;
    }
}

my ($hwm1, $rss1) = memory($worker);
my $streamed = stream_bytes();

set_mode('good');

is($asked, $rounds * @heavy, "all $rounds rounds ran within their time");
is($answered, $asked, 'under a hostile stream the admin gets 200 each time');
is($met, $asked, 'each of those requests met a hostile reply');

note(sprintf('worker %s: VmHWM %d kB after the warm-up, %d kB after the '
    . 'reset (%s), %d kB after %d rounds; VmRSS %d kB then %d kB; '
    . 'most bytes of one reply written before the gate hung up: %d',
    $worker // '?', $hwm_warm // 0, $hwm0 // 0, $reset ? 'done' : 'failed',
    $hwm1 // 0, $rounds, $rss0 // 0, $rss1 // 0, $streamed));

SKIP: {
    skip 'memory numbers mean nothing under valgrind', 2 if $S > 1;
    skip 'no VmHWM for the worker', 2 unless defined $hwm0 && defined $hwm1;

    my $limit = 16 * 1024;

    ok($hwm1 - $hwm0 < $limit, sprintf('peak memory flat under hostile '
        . 'replies: VmHWM grew by %d kB (limit %d kB)', $hwm1 - $hwm0,
        $limit));
    ok($rss1 - $rss0 < $limit, sprintf('nothing kept after hostile replies: '
        . 'VmRSS grew by %d kB (limit %d kB)', $rss1 - $rss0, $limit));
}

ok(wait_for_cache(qr/MISS|HIT/), 'after the stream, good Redis used again');
is(worker_pid(), $worker, 'no worker crashed under the stream');

$t->stop;

stop_redis($redis);

done_testing;

###############################################################################

sub get {
    my ($port, $tok) = @_;
    return $t->get_on($port, $p, $tok ? (Authorization => "Bearer $tok") : ());
}

# two rounds of the four requests against one hostile mode, then back to
# good; true when the mode was refused at once, as "$why"
sub phase {
    my ($mode, $why, $what) = @_;

    set_mode($mode);

    my $sent = hostile_replies();
    my $fast = 1;

    for my $n (1 .. 2) {
        my ($met, $slowest) = (0, 0);

        for my $case ([0, 'adm_tok', 200, undef],
            [0, 'usr_tok', 403, 'M_FORBIDDEN'],
            [0, 'bad_tok', 401, 'M_UNKNOWN_TOKEN'],
            [1, 'adm_tok', 503, 'M_UNKNOWN'])
        {
            my ($port, $tok, $status, $errcode) = @$case;
            my $server = $port ? 'failure deny' : 'failure verify';

            wait_ready();

            my $before = hostile_replies();
            my $start = time;
            my $r = get($port, $tok);
            my $took = time - $start;

            $slowest = $took if $took > $slowest;
            $met++ if hostile_replies() > $before;

            is($r->{status}, $status, "$what, $server: $tok gets $status ($n)");

            is(errcode($r), $errcode,
                "$what, $server: $tok gets $errcode ($n)")
                if defined $errcode;

            is($r->{headers}{'x-cache'}[0], '[ERROR]',
                "$what, $server: the lookup failed, it was no miss ($n)")
                if $port == 0;
        }

        is($met, 4, "$what: each request met the hostile reply ($n)");

        $fast = 0 if $slowest >= 0.9;

        SKIP: {
            skip 'timings mean nothing under valgrind', 1 if $S > 1;

            ok($slowest < 0.9, sprintf('%s: refused at once, the slowest '
                . 'answer took %.2fs, not the 1s timeout (%d)',
                $what, $slowest, $n));
        }
    }

    my $log = $t->new_errors;
    my $down = qr/\[error\] .*admin gate redis "\Q$name\E" is unavailable/;
    my $outages = count($log, $down);
    my $logged = $log =~ /$down: \Q$why\E/;

    ok($logged, "$what: the outage is logged as \"$why\"")
        or diag(join "\n", grep { /$down/ } split /\n/, $log);
    ok($outages >= 1 && $outages <= hostile_replies() - $sent,
        "$what: one outage line per dropped connection ($outages)");

    set_mode('good');

    ok(wait_for_cache(qr/MISS|HIT/), "$what, then good: Redis used again");
    like($t->new_errors,
        qr/\[notice\] .*admin gate redis "\Q$name\E" is available again/,
        "$what, then good: the return is logged");

    return $logged && $log !~ /$down: timed out/ && ($fast || $S > 1);
}

sub errcode {
    my ($r) = @_;
    my $json = eval { decode_json($r->{body}) } || {};
    return $json->{errcode} // '';
}

sub count {
    my ($log, $re) = @_;
    return scalar grep { $_ =~ $re } split /\n/, $log;
}

# polls until a gated request shows the cache state wanted
sub wait_for_cache {
    my ($re) = @_;

    my $deadline = time + 10 * $S;
    while (time < $deadline) {
        my $r = get(0, 'adm_tok');
        return 1 if ($r->{headers}{'x-cache'}[0] // '') =~ $re;
        sleep 0.1;
    }

    return 0;
}

# the mode file: the fake reads it for each GET
sub set_mode {
    my ($mode) = @_;

    my $file = $t->testdir . '/redis-mode';
    open my $fh, '>', "$file.new" or die "$file.new: $!";
    print $fh $mode;
    close $fh;
    rename "$file.new", $file or die "rename: $!";
}

# the fake's events: [time, connection, event, mode, details]
sub events {
    return map { [ split / /, $_, 5 ] } split /\n/,
        $t->read_file('redis.log');
}

sub hostile_replies {
    return scalar grep { $_->[2] eq 'start' } events();
}

# the most bytes of one hostile reply written before the gate hung up
# (socket buffers included)
sub stream_bytes {
    my $max = 0;

    for my $e (grep { $_->[2] eq 'done' } events()) {
        next unless ($e->[4] // '') =~ /sent=(\d+)/;
        $max = $1 if $1 > $max;
    }

    return $max;
}

# waits until the next GET goes to Redis: a handshake after the last
# hostile reply, or that reply's connection still open a while after it
# (a reader that took the reply keeps it); bounded by the backoff's 3s
sub wait_ready {
    my $deadline = time + 5 * $S;

    while (time < $deadline) {
        my @e = events();

        my ($last) = grep { $e[$_][2] eq 'start' } reverse 0 .. $#e;

        return 1 if !defined $last && grep { $_->[2] eq 'ping' } @e;
        return 1 if defined $last
            && grep { $_->[2] eq 'ping' } @e[$last + 1 .. $#e];

        if (defined $last) {
            my $conn = $e[$last][1];
            my ($done) = grep { $_->[1] eq $conn && $_->[2] eq 'done' }
                @e[$last .. $#e];
            my $closed = grep { $_->[1] eq $conn && $_->[2] eq 'closed' }
                @e[$last .. $#e];

            return 1 if $done && !$closed && time - $done->[0] > 0.3 * $S;
        }

        sleep 0.02;
    }

    return 0;
}

# the worker: the master's only child
sub worker_pid {
    my $master = $t->read_file('nginx.pid');
    return undef unless $master =~ /(\d+)/;
    $master = $1;

    open my $fh, '<', "/proc/$master/task/$master/children" or return undef;
    my @kids = split ' ', scalar(<$fh>) // '';
    close $fh;

    return $kids[0];
}

# (VmHWM, VmRSS) in kB
sub memory {
    my ($pid) = @_;

    return () unless $pid;

    open my $fh, '<', "/proc/$pid/status" or return ();
    my %m = map { /^(VmHWM|VmRSS):\s+(\d+)/ ? ($1, $2) : () } <$fh>;
    close $fh;

    return ($m{VmHWM}, $m{VmRSS});
}

# VmHWM down to the current RSS (clear_refs "5", Linux 4.0): a warm-up
# stream would otherwise leave the peak there already
sub reset_peak {
    my ($pid) = @_;

    return 0 unless $pid;

    open my $fh, '>', "/proc/$pid/clear_refs" or return 0;
    my $ok = print $fh "5";
    return (close($fh) && $ok) ? 1 : 0;
}

# a "Redis" on a free port: PING, SET, DEL as Redis, GET as redis-mode
# says.  A forked listener, a child per connection, all in one process
# group; each ends when its parent is gone.  Events go to redis.log.
sub hostile_redis {
    my ($dir) = @_;

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, Listen => 16, ReuseAddr => 1) or die "listen: $!";
    my $port = $listen->sockport;
    my $test = $$;

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        setpgrp(0, 0);

        $SIG{PIPE} = 'IGNORE';
        $SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };

        my $sel = IO::Select->new($listen);
        my $n = 0;

        while (getppid() == $test) {
            next unless $sel->can_read(0.5);
            my $c = $listen->accept or next;

            $n++;

            my $kid = fork();
            if (defined $kid && $kid == 0) {
                close $listen;
                $SIG{CHLD} = 'DEFAULT';
                eval { redis_connection($c, $n, $dir, getppid()) };
                _exit(0);
            }

            close $c;
        }

        kill 'TERM', -$$;
        _exit(0);
    }

    close $listen;

    return { pid => $pid, port => $port };
}

sub stop_redis {
    my ($r) = @_;

    kill 'TERM', -$r->{pid};
    waitpid($r->{pid}, 0);
    delete $r->{pid};
}

END {
    kill 'TERM', -$redis->{pid} if $redis && $redis->{pid};
}

sub redis_connection {
    my ($c, $conn, $dir, $listener) = @_;

    $c->blocking(0);

    my $sel = IO::Select->new($c);
    my $buf = '';

    redis_log($dir, $conn, 'open');

    while (getppid() == $listener) {
        next unless $sel->can_read(0.5);

        my $n = $c->sysread($buf, 65536, length $buf);
        next if !defined $n && ($!{EAGAIN} || $!{EINTR});
        last unless $n;

        while (my $argv = take_command(\$buf)) {
            my $cmd = uc $argv->[0];

            if ($cmd eq 'PING') {
                redis_log($dir, $conn, 'ping');
                put($c, "+PONG\r\n", time + $STREAM_SECONDS);

            } elsif ($cmd eq 'GET') {
                my $mode = read_mode($dir);

                if ($mode eq 'good') {
                    redis_log($dir, $conn, 'get', $mode);
                    put($c, "\$-1\r\n", time + $STREAM_SECONDS);
                    next;
                }

                redis_log($dir, $conn, 'start', $mode);
                my $start = time;
                my ($sent, $end) = hostile_reply($c, $mode);
                redis_log($dir, $conn, 'done', $mode, sprintf(
                    'sent=%d secs=%.2f end=%s', $sent, time - $start, $end));

            } else {
                put($c, "+OK\r\n", time + $STREAM_SECONDS);
            }
        }
    }

    redis_log($dir, $conn, 'closed');
}

# what GET gets in each hostile mode: (bytes sent, how it ended)
sub hostile_reply {
    my ($c, $mode) = @_;

    my $deadline = time + $STREAM_SECONDS;

    my %once = (
        'huge-array'     => "*10000000\r\n",
        'huge-array-2e9' => "*2000000000\r\n",
        'many-elements'  => "*100000\r\n" . (":1\r\n" x 100000),
        'deep-nesting'   => ("*1\r\n" x 100000) . ":1\r\n",
        'negative-bulk'  => "\$-7\r\n",
        'negative-array' => "*-5\r\n",
        'garbage-length' => "*x\r\n",
    );

    return put($c, $once{$mode}, $deadline) if exists $once{$mode};

    my %stream = (
        'huge-bulk'     => ["\$200000000\r\n", 'x'],
        'endless-array' => ["*10000000\r\n", ":1\r\n"],
        'endless-array-1e9' => ["*1000000000\r\n", ":1\r\n"],
    );

    my ($head, $unit) = @{ $stream{$mode} || die "mode $mode" };
    my $chunk = $unit x (65536 / length $unit);

    my ($sent, $end) = put($c, $head, $deadline);

    while ($end eq 'sent') {
        return ($sent, 'bytes') if $sent >= $STREAM_BYTES;

        my ($n, $e) = put($c, $chunk, $deadline);
        ($sent, $end) = ($sent + $n, $e);
    }

    return ($sent, $end);
}

# writes to a non-blocking socket until all is sent, the peer is gone or
# the deadline passes: (bytes sent, 'sent' | 'closed' | 'time')
sub put {
    my ($c, $data, $deadline) = @_;

    my $sel = IO::Select->new($c);
    my $off = 0;

    while ($off < length $data) {
        my $left = $deadline - time;
        return ($off, 'time') if $left <= 0;

        next unless $sel->can_write($left < 0.5 ? $left : 0.5);

        my $n = $c->syswrite($data, length($data) - $off, $off);

        if (!defined $n) {
            next if $!{EAGAIN} || $!{EINTR};
            return ($off, 'closed');
        }

        $off += $n;
    }

    return ($off, 'sent');
}

# one RESP command off the front of the buffer, or undef if incomplete
sub take_command {
    my ($buf) = @_;

    pos($$buf) = 0;

    return undef unless $$buf =~ /\G\*(\d+)\r\n/g;

    my $argc = $1;
    my @argv;

    for (1 .. $argc) {
        return undef unless $$buf =~ /\G\$(\d+)\r\n/g;

        my ($len, $at) = ($1, pos $$buf);
        return undef if length($$buf) < $at + $len + 2;

        push @argv, substr($$buf, $at, $len);
        pos($$buf) = $at + $len + 2;
    }

    substr($$buf, 0, pos $$buf, '');

    return \@argv;
}

sub read_mode {
    my ($dir) = @_;

    open my $fh, '<', "$dir/redis-mode" or return 'good';
    my $mode = <$fh> // 'good';
    close $fh;

    return $mode =~ s/\s+//gr;
}

sub redis_log {
    my ($dir, @fields) = @_;

    open my $fh, '>>', "$dir/redis.log" or return;
    syswrite $fh, join(' ', sprintf('%.3f', time), @fields) . "\n";
    close $fh;
}
