package FakeSynapse;

# A stand-in for Synapse on a loopback port, forked per connection.
#
#   whoami    GET /_matrix/client/{r0,v3}/account/whoami
#   admin     GET /_synapse/admin/v2/users/<user id> (the gate's check):
#             200 and the user (its "admin" is the users table) for an
#             admin caller, 403 "You are not a server admin" otherwise
#   legacy    GET /_synapse/admin/v1/users/<user id>/admin
#   anything else: 200 and a JSON echo of the request (the fake upstream)
#
# Two auth modes, as Synapse has (../shared/SYNAPSE.md):
#   auth => 'legacy' (the default): a caller is an admin by the users
#       table ("admin" of %USERS);
#   auth => 'mas' (delegated to Matrix Authentication Service): by the
#       token's scope ("urn:synapse:admin:*" in "scope"); the v1 admin
#       check is not registered (404 M_UNRECOGNIZED); appservices are
#       never admins; tokens may be "inactive" (401 "Token is not
#       active"), "mas_down" (503) or "missing_user" (500 M_FORBIDDEN).
#
# Tokens and users come from tables (defaults below, more via new()).  A
# token may carry canned replies per step, [status, body, delay seconds],
# to be slow, fail or send garbage, and "slow_first => seconds" to delay
# only its first whoami (a verification that is overtaken).  Every request is appended to
# synapse.log as one JSON line, so tests count calls and see headers.
#
# A family of tokens: "patterns => [ qr/^evict_\d+$/ => { user => ... } ]"
# answers every token that matches a pattern (the first that matches) as
# if it were in the table.  $fs->logout($token) logs a token out from then
# on: whoami, the admin checks and the upstream answer it 401
# M_UNKNOWN_TOKEN, as Synapse does.
#
# Run as a script for the demo: perl t/lib/FakeSynapse.pm PORT

use strict;
use warnings;

use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep);

my $JSON = JSON::PP->new->canonical;

our %USERS = (
    '@admin:test'  => { admin => 1 },
    '@user:test'   => { admin => 0 },
    '@bridge:test' => { admin => 0 },
    '@other:test'  => { admin => 1 },
);

our %TOKENS = (
    adm_tok => { user => '@admin:test' },
    usr_tok => { user => '@user:test' },
    as_tok  => { user => '@bridge:test', appservice => 1 },
);

sub new {
    my ($class, %o) = @_;

    my $self = bless {
        dir    => $o{dir},
        port   => $o{port},
        tokens => { %TOKENS, %{ $o{tokens} || {} } },
        users  => { %USERS, %{ $o{users} || {} } },
        name   => $o{name} || 'synapse',
        auth   => $o{auth} || 'legacy',
        patterns => [ @{ $o{patterns} || [] } ],
    }, $class;

    $self->{log} = "$self->{dir}/$self->{name}.log";

    return $self;
}

sub start {
    my ($self) = @_;

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $self->{port}, Proto => 'tcp', Listen => 64,
        ReuseAddr => 1) or die "fake synapse: listen $self->{port}: $!";

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        $self->serve($listen);
        _exit(0);
    }

    close $listen;
    $self->{pid} = $pid;

    return $self;
}

sub stop {
    my ($self) = @_;

    return unless $self->{pid};

    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub DESTROY { $_[0]->stop }

sub port { $_[0]->{port} }

# the requests received so far, oldest first
sub requests {
    my ($self) = @_;

    my @r;

    if (open my $fh, '<', $self->{log}) {
        @r = map { $JSON->decode($_) } <$fh>;
        close $fh;
    }

    return @r;
}

sub hits {
    my ($self, $re) = @_;
    return scalar grep { $_->{target} =~ $re } $self->requests;
}

sub whoami_hits { $_[0]->hits(qr{/account/whoami}) }

# the gate's admin checks: it always percent-encodes the "@" of the id
my $CHECK = qr{^/_synapse/admin/v2/users/%40[^/?]+(\?user_id=[^&]*)?$};

sub admin_hits { $_[0]->hits($CHECK) }

# what the upstream received from clients: all but the gate's own checks
sub upstream_requests {
    my ($self) = @_;
    return grep { $_->{target} !~ m{^/_matrix/client/v3/account/whoami}
            && $_->{target} !~ $CHECK } $self->requests;
}

sub clear_log { unlink $_[0]->{log} }

# from now on, Synapse refuses the token (a logout): its children read the
# file on every request
sub logout {
    my ($self, $token) = @_;

    open my $fh, '>>', "$self->{log}.logout" or die "$self->{log}.logout: $!";
    syswrite $fh, "$token\n";
    close $fh;
}

sub logged_out {
    my ($self, $token) = @_;

    return 0 unless defined $token;

    open my $fh, '<', "$self->{log}.logout" or return 0;
    my @out = <$fh>;
    close $fh;
    chomp @out;

    return scalar grep { $_ eq $token } @out;
}

# the table's entry for a token, or that of the first pattern it matches
sub token_entry {
    my ($self, $token) = @_;

    return undef unless defined $token;
    return $self->{tokens}{$token} if exists $self->{tokens}{$token};

    my @p = @{ $self->{patterns} };
    while (my ($re, $entry) = splice @p, 0, 2) {
        return $entry if $token =~ $re;
    }

    return undef;
}

###############################################################################

sub serve {
    my ($self, $listen) = @_;

    my $stop = 0;
    local $SIG{TERM} = sub { $stop = 1; close $listen };
    local $SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };

    while (!$stop) {
        my $c = $listen->accept or next;

        my $pid = fork();
        if (defined $pid && $pid == 0) {
            close $listen;
            local $SIG{TERM} = 'DEFAULT';
            eval { $self->handle($c) };
            _exit(0);
        }

        close $c;
    }
}

sub handle {
    my ($self, $c) = @_;

    my $raw = '';
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm(30);

    while ($raw !~ /\r\n\r\n/) {
        my $n = $c->sysread($raw, 65536, length $raw);
        return unless $n;
    }

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $target) = split / /, $line;
    my @headers = map { [ split /:\s*/, $_, 2 ] } @lines;

    my ($cl) = map { $_->[1] } grep { lc $_->[0] eq 'content-length' }
        @headers;
    while (defined $cl && length($body) < $cl) {
        my $n = $c->sysread($body, 65536, length $body);
        last unless $n;
    }

    alarm(0);

    my %req = (method => $method, target => $target, headers => \@headers,
        body => $body);

    open my $log, '>>', $self->{log} or die "$self->{log}: $!";
    syswrite $log, $JSON->encode(\%req) . "\n";
    close $log;

    my ($status, $reply, $delay) = $self->route(\%req);

    sleep $delay if $delay;

    my $text = { 200 => 'OK', 401 => 'Unauthorized', 403 => 'Forbidden',
        404 => 'Not Found', 500 => 'Internal Server Error' }->{$status}
        || 'Status';

    $c->syswrite("HTTP/1.1 $status $text\r\n"
        . "Content-Type: application/json\r\n"
        . "Content-Length: " . length($reply) . "\r\n"
        . "Connection: close\r\n\r\n" . $reply);
    close $c;
}

sub route {
    my ($self, $req) = @_;

    my ($path, $query) = split /\?/, $req->{target}, 2;
    my %args = parse_query($query // '');

    if ($path =~ m{^/_matrix/client/(?:r0|v3)/account/whoami$}) {
        return $self->whoami($req, \%args);
    }

    if ($path =~ m{^/_synapse/admin/v2/users/([^/]+)$}) {
        return $self->user_admin($req, \%args, unescape($1));
    }

    if ($path =~ m{^/_synapse/admin/v1/users/([^/]+)/admin$}) {
        return (404, $JSON->encode({ errcode => 'M_UNRECOGNIZED',
            error => 'Unrecognized request' }))
            if $self->{auth} eq 'mas';
        return $self->admin_check($req, \%args, unescape($1));
    }

    # a logged-out token: Synapse refuses it wherever it is sent
    my ($token) = $self->token_of($req, \%args);
    return (401, $self->unknown_token) if $self->logged_out($token);

    # the upstream refusing, for revocation tests
    if ($path =~ m{^/_synapse/admin/v1/status/(\d{3})$}) {
        return ($1, $JSON->encode({ errcode => 'M_FORBIDDEN',
            error => "status $1" }));
    }

    return (200, $JSON->encode({ echo => $req }));
}

sub whoami {
    my ($self, $req, $args) = @_;

    my ($t, $user, @err) = $self->caller_of($req, $args);
    return @err if @err;

    return @{ $t->{whoami} } if $t->{whoami};

    if ($self->{auth} eq 'mas') {
        return (503, $JSON->encode({ errcode => 'M_UNKNOWN',
            error => 'Could not introspect the access token' }))
            if $t->{mas_down};
        return (500, $JSON->encode({ errcode => 'M_FORBIDDEN',
            error => 'User not found' }))
            if $t->{missing_user};
    }

    my $delay = 0;

    if ($t->{slow_first}) {
        my $auth = join ' ', map { $_->[1] }
            grep { lc $_->[0] eq 'authorization' } @{ $req->{headers} };
        my $n = grep {
            $_->{target} =~ m{/account/whoami}
                && grep { lc $_->[0] eq 'authorization' && $_->[1] eq $auth }
                    @{ $_->{headers} }
        } $self->requests;

        # this request is in the log already
        $delay = $t->{slow_first} if $n == 1;
    }

    return (200, $JSON->encode({ user_id => $user, is_guest => JSON::PP::false,
        device_id => 'FAKEDEVICE' }), $delay);
}

# GET /_synapse/admin/v2/users/<id>: the status says whether the caller
# is an admin, the body's "admin" is the users table
sub user_admin {
    my ($self, $req, $args, $target) = @_;

    my ($t, $user, @err) = $self->caller_of($req, $args);
    return @err if @err;

    return @{ $t->{admin} } if $t->{admin};

    return (403, $JSON->encode({ errcode => 'M_FORBIDDEN',
        error => 'You are not a server admin' }))
        unless $self->is_admin($t, $user);

    return (404, $JSON->encode({ errcode => 'M_NOT_FOUND',
        error => 'User not found' }))
        unless $self->{users}{$target};

    return (200, $JSON->encode({ name => $target,
        admin => $self->{users}{$target}{admin}
            ? JSON::PP::true : JSON::PP::false,
        deactivated => JSON::PP::false, displayname => $target,
        threepids => [] }));
}

sub is_admin {
    my ($self, $t, $user) = @_;

    if ($self->{auth} eq 'mas') {
        return 0 if $t->{appservice};
        return ($t->{scope} // '') =~ /(^|\s)urn:synapse:admin:\*(\s|$)/;
    }

    return $self->{users}{$user}{admin};
}

# GET /_synapse/admin/v1/users/<id>/admin, legacy auth only
sub admin_check {
    my ($self, $req, $args, $target) = @_;

    my ($t, $user, @err) = $self->caller_of($req, $args);
    return @err if @err;

    return @{ $t->{admin} } if $t->{admin};

    return (403, $JSON->encode({ errcode => 'M_FORBIDDEN',
        error => 'You are not a server admin' }))
        unless $self->{users}{$user}{admin};

    return (404, $JSON->encode({ errcode => 'M_NOT_FOUND',
        error => 'User not found' }))
        unless $self->{users}{$target};

    return (200, $JSON->encode({ admin => $self->{users}{$target}{admin}
        ? JSON::PP::true : JSON::PP::false }));
}

# (token entry, acting user) or (undef, undef, status, body)
sub caller_of {
    my ($self, $req, $args) = @_;

    my ($token) = $self->token_of($req, $args);

    my $t = $self->token_entry($token);

    return (undef, undef, 401, $self->unknown_token)
        if !$t || $self->logged_out($token);

    return (undef, undef, 401, $JSON->encode({ errcode => 'M_UNKNOWN_TOKEN',
        error => 'Token is not active', soft_logout => JSON::PP::false }))
        if $self->{auth} eq 'mas' && $t->{inactive};

    my $user = $t->{user};

    if ($t->{appservice} && defined $args->{user_id}) {
        $user = $args->{user_id};
        return (undef, undef, 403, $JSON->encode({ errcode => 'M_FORBIDDEN',
            error => 'Application service cannot masquerade as this user.' }))
            unless $self->{users}{$user};
    }

    return ($t, $user);
}

# the token a request carries, Synapse's way
sub token_of {
    my ($self, $req, $args) = @_;

    my ($auth) = map { $_->[1] } grep { lc $_->[0] eq 'authorization' }
        @{ $req->{headers} };

    return (defined $auth && $auth =~ /^Bearer (\S+)$/) ? $1
        : $args->{access_token};
}

sub unknown_token {
    return $JSON->encode({ errcode => 'M_UNKNOWN_TOKEN',
        error => 'Invalid access token passed.',
        soft_logout => JSON::PP::false });
}

sub parse_query {
    my ($q) = @_;

    my %args;
    for my $kv (split /[&;]/, $q) {
        next unless $kv =~ /=/;
        my ($k, $v) = map { unescape($_ =~ tr/+/ /r) } split /=/, $kv, 2;
        $args{$k} //= $v;
    }

    return %args;
}

sub unescape {
    my ($s) = @_;
    $s =~ s/%([0-9a-fA-F]{2})/chr hex $1/ge;
    return $s;
}

###############################################################################

# the demo: perl t/lib/FakeSynapse.pm PORT [LOG DIR]
unless (caller) {
    my ($port, $dir) = @ARGV;
    die "usage: $0 PORT [DIR]\n" unless $port;

    my $fs = FakeSynapse->new(port => $port, dir => $dir || '/tmp',
        name => 'fake-synapse',
        tokens => {
            demo_admin_token => { user => '@admin:test' },
            demo_user_token  => { user => '@user:test' },
        });

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port, Proto => 'tcp', Listen => 64, ReuseAddr => 1)
        or die "listen $port: $!";

    $fs->serve($listen);
}

1;
