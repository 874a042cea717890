#!/usr/bin/perl

# `make run`: util/demo starts nginx with the gate in front of the Synapse
# stand-in, with a cache zone and a Redis of its own, and prints curl
# lines; each line does what it says, a repeated one is a zone hit, the
# metrics URL it prints counts them, and the demo cleans up after itself
# when stopped.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use AdminTest qw(free_port wait_port);

my $t = AdminTest->new;

plan(skip_all => 'curl is not installed') unless `which curl` =~ /curl/;

my $port = free_port();
my $out = $t->testdir . '/demo.out';

my $pid = fork();
die "fork: $!" unless defined $pid;

if ($pid == 0) {
    open STDOUT, '>', $out;
    open STDERR, '>&', \*STDOUT;
    $ENV{DEMO_PORT} = $port;
    $ENV{DEMO_SECONDS} = 60;
    exec 'util/demo', Cwd::abs_path($t->{module}) or die "exec: $!";
}

my $deadline = time + 30 * $AdminTest::SLOW;
sleep 0.1 while time < $deadline && $t->read_file('demo.out') !~ /Ctrl-C/;

my $text = $t->read_file('demo.out');
my @curl = $text =~ /^  (curl .*)$/mg;
is(scalar @curl, 4, 'the demo prints four curl lines') or diag($text);

my %expect = (
    'an admin' => qr{^HTTP/1.1 200 .*"admin":\s*true}s,
    'a user who is not an admin' => qr{^HTTP/1.1 403 .*M_FORBIDDEN}s,
    'no token' => qr{^HTTP/1.1 401 .*M_MISSING_TOKEN}s,
);

while ($text =~ /^  # (an admin|a user who is not an admin|no token).*\n  (curl .*)$/mg) {
    my ($what, $cmd) = ($1, $2);
    my $answer = `$cmd 2>/dev/null`;
    like($answer, $expect{$what}, "demo: $what") or diag($answer);
}

# the admin line again: the demo's access log shows the verdict cached

my ($admin) = grep { /demo_admin_token/ } @curl;
`$admin 2>/dev/null`;
$deadline = time + 5;
sleep 0.1 while time < $deadline
    && $t->read_file('demo.out') !~ /" 200 allow HIT_ZONE \@admin:test$/m;
like($t->read_file('demo.out'), qr/" 200 allow HIT_ZONE \@admin:test$/m,
    'demo: the second admin request is a zone hit');

# the metrics it prints: two admins allowed, one from the zone

my ($url) = $text =~ m{^Metrics .*: (http://\S+)$}m;
is($url, "http://127.0.0.1:$port/metrics", 'demo: prints the metrics URL');
my $metrics = `curl -s '$url'`;
like($metrics, qr/^admin_gate_requests_total\{server="_",verdict="allow"\} 2$/m,
    'demo: the metrics count both admin requests');
like($metrics,
    qr/^admin_gate_cache_lookups_total\{tier="zone",result="hit"\} 1$/m,
    'demo: and the zone hit');

my $dir = ($text =~ m{(/tmp/admin-gate-demo\.\w+)})[0];

kill 'TERM', $pid;
$deadline = time + 20;
sleep 0.05 while time < $deadline && waitpid($pid, WNOHANG) != $pid;

ok(!kill(0, $pid), 'the demo stops on TERM');
ok(!wait_port($port, 0.5), 'the demo nginx is gone');
like($t->read_file('demo.out'), qr/demo stopped/, 'the demo cleaned up');
ok(!defined $dir || !-e $dir, 'the demo removed its temp dir');

done_testing;

use Cwd ();
