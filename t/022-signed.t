#!/usr/bin/perl

# Signed cache entries (admin_gate_secret_file).  Keys are the HMAC of the
# token under the secret, so whoever reads Redis cannot test guessed
# tokens; every value carries its expiry and an HMAC over key, verdict,
# expiry, user and body, so whoever writes Redis can neither forge nor
# replay an admin verdict: a forged "allow", a valid "allow" copied onto
# another key and an expired value kept alive with PERSIST are all misses,
# logged without the token.  nginx -t refuses a secret file that others
# can read or that is shorter than 32 bytes.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Digest::SHA qw(hmac_sha256_hex sha256_hex);
use Time::HiRes qw(sleep time);

use AdminTest;
use RedisServer;

my $SECRET = join '', map { chr(($_ * 37 + 11) % 256) } 1 .. 48;

my $t = AdminTest->new;
my $redis = RedisServer->new(dir => $t->testdir)->start;
my $fs = $t->synapse(tokens => { adm2_tok => { user => '@admin:test' } });

my $file = $t->write_file('secret', $SECRET);
chmod 0600, $file;

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
    admin_gate_secret_file %%TESTDIR%%/secret;

    add_header X-Cache "[$admin_gate_cache]" always;

    server {
        listen 127.0.0.1:%%PORT_0%%;
        server_name signed.test;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name short.test;

        admin_gate_cache_ttl 1s;

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

# keys and values

for my $n (1 .. 2) {
    my $r = get(0, 'adm_tok');
    is($r->{status}, 200, "an admin passes ($n)");
    is(cache($r), $n == 1 ? 'MISS' : 'HIT', "signed values are read ($n)");
}

my $adm = key('signed.test', 'adm_tok');
my $value = $redis->cli('GET', $adm);
like($value, qr/^AG1 a \d+ 11 0 [0-9a-f]{64}\n\@admin:test$/,
    'the key is the HMAC of the token; the value carries a tag');
is($redis->cli('EXISTS', 'admin_gate:signed.test:' . sha256_hex('adm_tok')),
    0, 'no key is a plain SHA-256 of the token');
is(tag('admin_gate:signed.test:', $value, $adm), 1,
    'the tag is HMAC-SHA256(key "\n" line user body)');

# a value signed with the secret (as only nginx can) is believed

my $usr = key('signed.test', 'usr_tok');
my $future = int(time * 1000) + 60000;

$redis->cli('SET', $usr, sign($usr, "AG1 a $future 10 0", '@user:test'));
my $r = get(0, 'usr_tok');
is($r->{status}, 200, 'a correctly signed value is believed');

# forgeries: none of them lets a non-admin through

my @forged = (
    [ 'an unsigned "allow"', "AG1 a $future 10 0 -\n\@user:test" ],
    [ 'an "allow" signed with another key',
      signwith('another secret of at least 32 bytes...', $usr,
          "AG1 a $future 10 0", '@user:test') ],
    [ 'the admin\'s valid "allow" copied onto this key', $value ],
    [ 'an "allow" with a tag of the right length but wrong',
      "AG1 a $future 10 0 " . ('0' x 64) . "\n\@user:test" ],
    [ 'a tag edited after signing',
      sign($usr, "AG1 a $future 10 0", '@user:test') =~ s/(\n)/0$1/r ],
    [ 'a signed value with its user changed',
      sign($usr, "AG1 a $future 10 0", '@user:test') =~ s/\@user/\@oser/r ],
);

for my $case (@forged) {
    my ($name, $v) = @$case;

    for my $n (1 .. 2) {
        $redis->cli('SET', $usr, $v);
        $fs->clear_log;
        $t->new_errors;

        $r = get(0, 'usr_tok');
        is($r->{status}, 403, "$name: refused ($n)");
        is(cache($r), 'MISS', "$name: a miss ($n)");
        is($fs->whoami_hits, 1, "$name: Synapse asked ($n)");
        like($t->new_errors, qr/admin gate ignores the cached verdict for token "[0-9a-f]{8}": /,
            "$name: logged ($n)");
    }
}

like($t->error_log, qr/\[warn\] .*ignores the cached verdict .*: its tag does not verify/,
    'a forgery is logged at warn');

# an expired value kept alive with PERSIST

$r = get(1, 'adm2_tok');
my $short = key('short.test', 'adm2_tok');

$redis->cli('SET', $short, sign($short, 'AG1 a ' . (int(time * 1000) + 800)
    . ' 11 0', '@admin:test'));
$redis->cli('PERSIST', $short);

sleep 1.2;
is($redis->cli('EXISTS', $short), 1, 'PERSIST: Redis keeps the value');

$fs->clear_log;
$r = get(1, 'adm2_tok');
is(cache($r), 'MISS', 'PERSIST: the expired value is a miss');
is($fs->whoami_hits, 1, 'PERSIST: Synapse asked');
like($t->error_log, qr/ignores the cached verdict .*: it has expired/,
    'PERSIST: logged');

$t->stop;

# nginx -t and the secret file

my %files = (
    'readable by others' => [0644, 'x' x 40],
    'shorter than 32 bytes' => [0600, 'x' x 31],
);

for my $name (sort keys %files) {
    my ($mode, $content) = @{ $files{$name} };

    my $t2 = AdminTest->new;
    my $f = $t2->write_file('secret', $content);
    chmod $mode, $f;

    my ($rc, $out) = $t2->test_config(conf($f));
    isnt($rc, 0, "a secret file $name: nginx -t fails");
    like($out, $name =~ /readable/ ? qr/\[emerg\] secret file ".*" is readable by others/
        : qr/\[emerg\] secret file ".*" has 31 bytes: it needs 32 to 4096/,
        "a secret file $name: says why");
    unlike($out, qr/xxxx/, "a secret file $name: not shown");
}

my $t3 = AdminTest->new;
my ($rc, $out) = $t3->test_config(conf($t3->testdir . '/none'));
like($out, qr/\[emerg\] open\(\) ".*none" failed/, 'a missing secret file');

my $f = $t3->write_file('secret', 'y' x 32);
chmod 0600, $f;
($rc, $out) = $t3->test_config(
    conf($f) =~ s/(admin_gate_secret_file .*;)/$1\n    $1/r);
like($out, qr/"admin_gate_secret_file" directive is duplicate/,
    'a second admin_gate_secret_file');

($rc, $out) = $t3->test_config(conf($f));
is($rc, 0, 'a 32-byte secret file readable by its owner only: nginx -t passes');

done_testing;

###############################################################################

sub key {
    my ($server, $tok) = @_;
    return "admin_gate:$server:" . hmac_sha256_hex($tok, $SECRET);
}

sub signwith {
    my ($secret, $key, $line, $user, $body) = @_;
    $body //= '';
    return "$line " . hmac_sha256_hex("$key\n$line$user$body", $secret)
        . "\n$user$body";
}

sub sign { signwith($SECRET, @_) }

# whether a value's tag verifies
sub tag {
    my ($prefix, $value, $key) = @_;
    my ($line, $tag, $rest) = $value =~ /^(.*) ([0-9a-f]{64})\n(.*)$/s
        or return 0;
    return hmac_sha256_hex("$key\n$line$rest", $SECRET) eq $tag ? 1 : 0;
}

sub get {
    my ($port, $tok) = @_;
    return $t->get_on($port, $p, Authorization => "Bearer $tok");
}

sub cache {
    return ($_[0]->{headers}{'x-cache'}[0] // '') =~ s/^\[|\]$//gr;
}

sub conf {
    my ($secret) = @_;

    return <<"END";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    admin_gate_secret_file $secret;

    server {
        listen 127.0.0.1:%%PORT_0%%;
    }
}
END
}
