#!/usr/bin/perl

# The cached value format (AG1, ngx_http_admin_value.c) refuses every
# malformed or foreign value, and a value in the JSON format written
# before AG1 is read as a miss.  Each value is planted in Redis under the
# key of a fresh token, and each must be a miss that goes to Synapse:
# never an allow for a non-admin, never a refusal for an admin.  The value
# is left alone (fills are SET NX), and the miss is logged without the
# token.  A key of another type is an error, and the request is verified.
# Run without a zone, then with one (and a third of the malformed values):
# a value refused in Redis never becomes a zone entry, the zone holds
# Synapse's verdict instead.
#
# t/020 has the JSON garbage ("not json", "[]", JSON verdicts that are
# incomplete); t/022 the signed values (forged, copied, expired and kept).
# Here: everything the unsigned AG1 reader must refuse, and valid values
# of the JSON format.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Digest::SHA qw(sha256_hex);
use Math::BigInt;
use Time::HiRes qw(time);

use AdminTest;
use RedisServer;

my $users = '/_synapse/admin/v1/users';

my $F = int(time * 1000) + 3600000;            # an hour from now, in ms
my $U = '@user:test';                           # 10 bytes
my $A = '@admin:test';                          # 11 bytes
my $ALLOW = "AG1 a $F 10 0 -\n$U";             # what a non-admin wants
my $WRAP = Math::BigInt->new(2)->bpow(64);      # a number that wraps to 0

my $unknown = '{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token '
    . 'passed.","soft_logout":false}';
my $forbidden = '{"errcode":"M_FORBIDDEN","error":"You are not a server '
    . 'admin"}';

# [ name, whose token (usr: a non-admin, adm: an admin), value, why ]
my @cases = (

    # controls: well-formed values are believed (there is no secret)
    [ 'control: an allow', 'usr', $ALLOW, 'ok' ],
    [ 'control: a refusal', 'adm', "AG1 f $F 11 0 -\n$A", 'ok' ],

    # truncated
    (map { [ "truncated to \"" . esc($_) . '"', 'usr', $_, 'version' ] }
        '', 'A', 'AG1', 'AG1 ', 'AG1 a', 'AG1 a ', "AG1 a $F", "AG1 a $F 10",
        "AG1 a $F 10 0", "AG1 a $F 10 0 ", "AG1 a $F 10 0 -",
        "AG1 a $F 10 0 -\n", "AG1 a $F 10 0 -\n\@user:tes"),

    # another version, or no version
    (map { [ "magic \"$_\"", 'usr', "$_ a $F 10 0 -\n$U", 'version' ] }
        'AG2', 'AG0', 'AG10', 'ag1', 'AG', 'XG1', ' AG1', 'AG1 '),
    [ 'no space after the magic', 'usr', "AG1a $F 10 0 -\n$U", 'version' ],

    # another verdict letter
    (map { [ "verdict \"" . esc($_) . '"', 'usr', "AG1 $_ $F 10 0 -\n$U",
        'version' ] } 'A', 'aa', 'x', 'r', '-', '0', '', "\0", "a\0"),
    [ 'refusal: verdict "F"', 'adm', "AG1 F $F 11 0 -\n$A", 'version' ],
    [ 'refusal: verdict "U"', 'adm', "AG1 U $F 0 " . length($unknown)
        . " -\n$unknown", 'version' ],

    # numbers that are not numbers, or not as written
    (map { [ "expiry \"$_\"", 'usr', "AG1 a $_ 10 0 -\n$U", 'version' ] }
        'soon', "${F}x", "x$F", "-$F", "+$F", "0$F", "$F.0", '1e13',
        sprintf('0x%x', $F), ''),
    [ 'expiry past 64 bits, wrapping to a valid one', 'usr',
        'AG1 a ' . ($WRAP + $F) . " 10 0 -\n$U", 'version' ],
    [ 'expiry of 21 nines', 'usr', 'AG1 a ' . ('9' x 21) . " 10 0 -\n$U",
        'version' ],
    (map { [ "user length \"$_\"", 'usr', "AG1 a $F $_ 0 -\n$U", 'version' ] }
        'ten', '010', '-10', '+10', '1O', '', '0x0a'),
    [ 'user length past 64 bits, wrapping to 10', 'usr',
        "AG1 a $F " . ($WRAP + 10) . " 0 -\n$U", 'version' ],
    (map { [ "body length \"$_\"", 'usr', "AG1 a $F 10 $_ -\n$U", 'version' ] }
        'none', '00', '-0', '+0', ''),
    [ 'body length 2^64, wrapping to 0', 'usr', "AG1 a $F 10 $WRAP -\n$U",
        'version' ],

    # lengths that do not add up
    [ 'user length one short', 'usr', "AG1 a $F 9 0 -\n$U", 'version' ],
    [ 'user length one long', 'usr', "AG1 a $F 11 0 -\n$U", 'version' ],
    [ 'the user as a body', 'usr', "AG1 a $F 0 10 -\n$U", 'version' ],
    [ 'a body announced, none there', 'usr', "AG1 a $F 10 1 -\n$U",
        'version' ],
    [ 'an allow with a body', 'usr', "AG1 a $F 5 5 -\n$U", 'version' ],
    [ 'refusal: the body one short', 'adm', "AG1 u $F 0 "
        . (length($unknown) + 1) . " -\n$unknown", 'version' ],

    # trailing bytes
    (map { [ 'trailing "' . esc($_) . '"', 'usr', "$ALLOW$_", 'version' ] }
        "\n", 'x', "\0", "\r\n", ' '),
    [ 'refusal: trailing "x"', 'adm', "AG1 f $F 11 0 -\n${A}x", 'version' ],

    # NUL bytes inside
    [ 'NUL in the user', 'usr', "AG1 a $F 10 0 -\n\@user\0test", 'version' ],
    [ 'NUL after the expiry', 'usr', "AG1 a $F\0 10 0 -\n$U", 'version' ],
    [ 'NUL for the LF', 'usr', "AG1 a $F 10 0 -\0$U", 'version' ],
    [ 'NUL for the tag', 'usr', "AG1 a $F 10 0 \0\n$U", 'version' ],
    [ 'NUL after the magic', 'usr', "AG1\0a $F 10 0 -\n$U", 'version' ],
    [ 'refusal: NUL in the user', 'adm', "AG1 f $F 11 0 -\n\@admin\0test",
        'version' ],

    # the tag, without a secret
    [ 'a 64-hex tag', 'usr', "AG1 a $F 10 0 " . ('ab' x 32) . "\n$U",
        'version' ],
    [ 'tag "x"', 'usr', "AG1 a $F 10 0 x\n$U", 'version' ],
    [ 'tag "--"', 'usr', "AG1 a $F 10 0 --\n$U", 'version' ],
    [ 'no tag', 'usr', "AG1 a $F 10 0\n$U", 'version' ],

    # other separators
    [ 'tabs', 'usr', "AG1\ta\t$F\t10\t0\t-\n$U", 'version' ],
    [ 'CRLF', 'usr', "AG1 a $F 10 0 -\r\n$U", 'version' ],
    [ 'two spaces', 'usr', "AG1 a  $F 10 0 -\n$U", 'version' ],

    # an allow whose user is not a user id
    [ 'user without "@"', 'usr', "AG1 a $F 9 0 -\nuser:test", 'version' ],
    [ 'user "@"', 'usr', "AG1 a $F 1 0 -\n\@", 'version' ],
    [ 'user with a space', 'usr', "AG1 a $F 10 0 -\n\@us er:te", 'version' ],
    [ 'user with a UTF-8 letter', 'usr', "AG1 a $F 11 0 -\n\@user:t\xc3\xa9t",
        'version' ],
    [ 'user of 256 bytes', 'usr', "AG1 a $F 256 0 -\n\@" . ('u' x 255),
        'version' ],

    # refusals without what they need
    [ 'refusal: unknown token without a body', 'adm', "AG1 u $F 0 0 -\n",
        'version' ],
    [ 'refusal: forbidden without user or body', 'adm', "AG1 f $F 0 0 -\n",
        'version' ],
    [ 'refusal: body of 16 KiB and one', 'adm', "AG1 u $F 0 16385 -\n"
        . ('x' x 16385), 'version' ],

    # expired
    [ 'expired a second ago', 'usr', 'AG1 a ' . (int(time * 1000) - 1000)
        . " 10 0 -\n$U", 'expired' ],
    [ 'expiry 0', 'usr', "AG1 a 0 10 0 -\n$U", 'expired' ],
    [ 'refusal: expired', 'adm', 'AG1 f ' . (int(time * 1000) - 1000)
        . " 11 0 -\n$A", 'expired' ],

    # the JSON format before AG1, as it wrote verdicts
    [ 'JSON: an allow', 'usr', '{"verdict":"allow","user":"@user:test"}',
        'version' ],
    [ 'JSON: forbidden', 'adm', '{"verdict":"forbidden","user":"@admin:test"}',
        'version' ],
    [ 'JSON: forbidden with Synapse\'s answer', 'adm',
        '{"verdict":"forbidden","user":"@admin:test","status":403,"body":'
        . json_string($forbidden) . '}', 'version' ],
    [ 'JSON: unknown token', 'adm', '{"verdict":"unknown_token","status":401,'
        . '"body":' . json_string($unknown) . '}', 'version' ],

    # a key of another type: Redis answers an error
    [ 'a list at the key', 'usr', [ 'RPUSH', $ALLOW ], 'type' ],
    [ 'refusal: a hash at the key', 'adm', [ 'HSET', 'verdict', 'forbidden' ],
        'type' ],
);

for my $run ([ 'no zone', '' ], [ 'a zone', 'admin_gate_cache_zone v:1m;' ]) {
    my ($mode, $zone) = @$run;

    my $t = AdminTest->new;
    my $redis = RedisServer->new(dir => $t->testdir)->start;
    my $fs = $t->synapse(patterns => [
        qr/^vf_usr_/ => { user => $U },
        qr/^vf_adm_/ => { user => $A },
    ]);

    $t->run(<<"END" =~ s/%%REDIS%%/$redis->port/ger);
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    $zone

    admin_gate_redis 127.0.0.1:%%REDIS%%;
    # not what is tested here: long, for a loaded machine
    admin_gate_redis_timeout 5s;

    server {
        listen 127.0.0.1:%%PORT_0%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        add_header X-Cache "[\$admin_gate_cache]" always;

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

    my $i = 0;

    for my $case (@cases) {
        my ($name, $who, $value, $why) = @$case;

        # with the zone, a third of the malformed ones: the reader is the
        # same, what is tested is that none becomes a zone entry
        next if $zone && $why eq 'version' && $name !~ /^JSON/ && $i++ % 3;

        my $tok = 'vf_' . $who . '_' . ($zone ? 'z' : 'n') . '_' . ++$i;
        my $key = 'admin_gate:_:' . sha256_hex($tok);
        my $right = $who eq 'usr' ? 403 : 200;

        $t->secret($tok);

        if (ref $value) {
            my ($cmd, @args) = @$value;
            $redis->command($cmd, $key, @args);

        } else {
            $redis->command('SET', $key, $value);
        }

        $fs->clear_log;
        $t->new_errors;

        my @r = map { get($t, $tok) } 1 .. 2;

        if ($why eq 'ok') {
            is("$r[0]{cache} $r[0]{status}",
                'HIT ' . ($who eq 'usr' ? 200 : 403), "$mode, $name: believed");
            is($fs->whoami_hits, 0, "$mode, $name: Synapse not asked");
            next;
        }

        my $first = $why eq 'type' ? 'ERROR' : 'MISS';

        is("$r[0]{cache} $r[0]{status}", "$first $right",
            "$mode, $name: a miss, Synapse's verdict");

        is("$r[1]{cache} $r[1]{status}",
            ($zone ? 'HIT_ZONE' : $first) . " $right",
            "$mode, $name: again, " . ($zone ? 'from the zone' : 'a miss'));

        is($fs->whoami_hits, $zone ? 1 : 2, "$mode, $name: Synapse asked");

        if (ref $value) {
            like($redis->command('TYPE', $key), qr/^(list|hash)$/,
                "$mode, $name: left alone");
            next;
        }

        is($redis->command('GET', $key), $value, "$mode, $name: left alone");

        my $said = $why eq 'expired' ? 'it has expired'
            : 'it is not a verdict of this version';
        like($t->new_errors,
            qr/ignores the cached verdict for token "[0-9a-f]{8}": \Q$said\E/,
            "$mode, $name: logged");
    }

    # after the errors, Redis is still used

    my $tok = 'vf_usr_after_' . ($zone ? 'z' : 'n');
    $t->secret($tok);
    $redis->command('SET', 'admin_gate:_:' . sha256_hex($tok), $ALLOW);
    is(get($t, $tok)->{cache}, 'HIT', "$mode: Redis still answers");

    $t->stop;
}

done_testing;

###############################################################################

sub get {
    my ($t, $tok) = @_;

    my $r = $t->get($users, Authorization => "Bearer $tok");
    $r->{cache} = ($r->{headers}{'x-cache'}[0] // '') =~ s/^\[|\]$//gr;

    return $r;
}

# a value for a test name
sub esc {
    return $_[0] =~ s/([^\x21-\x7e ])/sprintf '\\x%02x', ord $1/ger;
}

sub json_string {
    require JSON::PP;
    return JSON::PP->new->allow_nonref->encode($_[0]);
}
