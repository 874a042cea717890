package RedisSentinel;

# A real redis-sentinel for one test file, on a loopback port, its files
# in the test dir, watching one master named "gate":
#
#   my $s = RedisSentinel->new(dir => $t->testdir, master => $redis->port,
#       quorum => 2, extra => ['sentinel auth-pass gate pw'])->start;
#   $s->cli('SENTINEL', 'get-master-addr-by-name', 'gate');  $s->stop;
#
# The master is down after 1 s without an answer; a failover may follow
# another after 3 s.  skip_all when redis-sentinel is not installed.

use strict;
use warnings;

use Test::More;

use AdminTest qw(free_port wait_port end_process);

sub new {
    my ($class, %o) = @_;

    plan(skip_all => 'redis-sentinel is not installed')
        unless `which redis-sentinel redis-cli`
               =~ /redis-sentinel.*\n.*redis-cli/s;

    my $self = bless { quorum => 1, %o }, $class;

    $self->{port} //= free_port();
    $self->{name} //= "sentinel-$self->{port}";

    return $self;
}

sub port { $_[0]->{port} }

sub start {
    my ($self) = @_;

    my $dir = $self->{dir};

    # Sentinel rewrites this file as it learns: one per Sentinel
    my $file = "$dir/$self->{name}.conf";
    open my $fh, '>', $file or die "$file: $!";
    print $fh <<"END";
bind 127.0.0.1
port $self->{port}
daemonize no
dir $dir
logfile $dir/$self->{name}.log
sentinel monitor gate 127.0.0.1 $self->{master} $self->{quorum}
sentinel down-after-milliseconds gate 1000
sentinel failover-timeout gate 3000
sentinel parallel-syncs gate 1
END
    print $fh "$_\n" for @{ $self->{extra} || [] };
    close $fh;

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDOUT, '>>', "$dir/$self->{name}.out";
        open STDERR, '>&', \*STDOUT;
        exec 'redis-sentinel', $file or die "exec: $!";
    }

    $self->{pid} = $pid;

    wait_port($self->{port}, 10) or die "redis-sentinel did not start";

    return $self;
}

sub stop {
    my ($self) = @_;

    return unless $self->{pid};

    end_process($self->{pid}, 'TERM', 10);

    delete $self->{pid};
}

# redis-cli against this Sentinel
sub cli {
    my ($self, @args) = @_;

    open my $fh, '-|', 'redis-cli', '-h', '127.0.0.1', '-p', $self->{port},
        @args or die "redis-cli: $!";
    my @out = <$fh>;
    close $fh;

    chomp @out;

    return wantarray ? @out : join("\n", @out);
}

sub DESTROY { $_[0]->stop }

1;
