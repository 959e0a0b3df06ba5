#!/usr/bin/perl
# An allocation-heavy, deterministic perl workload (tests/real_programs.rs runs it with and
# without libpoolalloc.so preloaded and compares the output byte for byte): text generated
# from a fixed seed, word and bigram counts in hashes, regex rewriting, nested structures
# serialized by hand, sorting, string building, memoized recursion, array splicing.
# Only perl-base (Debian's essential perl) is used: strict and warnings, no other module.
use strict;
use warnings;

my $scale = shift // 1;
my $seed  = 20260412;
# A 31-bit LCG; its low bits cycle quickly, so callers use the high ones (>> 8).
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed >> 8; }

my @syll = qw(ka lo mi nu pe ra si to vu xe ba de fi go hu ja);
my @words = map { my $n = 1 + rnd() % 4; join '', map { $syll[rnd() % @syll] } 1 .. $n } 1 .. 3000;

# 1. A text of 60k words in lines; word and bigram counts.
my (@lines, %freq, %bigram);
for my $l (1 .. 6000 * $scale) {
    my @w = map { $words[rnd() % @words] } 1 .. 10;
    $freq{$_}++ for @w;
    $bigram{"$w[$_] $w[$_ + 1]"}++ for 0 .. $#w - 1;
    push @lines, join ' ', @w;
}
my @top = (sort { $freq{$b} <=> $freq{$a} || $a cmp $b } keys %freq)[0 .. 19];
print "words: ", scalar(keys %freq), " distinct, bigrams: ", scalar(keys %bigram), "\n";
printf "%-12s %d\n", $_, $freq{$_} for @top;

# 2. Regex rewriting of every line, then a checksum of the result.
my $text = join "\n", @lines;
(my $t2 = $text) =~ s/\b(\w)(\w*)\b/\U$1\E$2/g;
$t2 =~ s/(ka|lo)+/<$&>/g;
my @parts = split /<[^>]*>/, $t2;
printf "rewritten: %d bytes, %d parts, checksum %d\n", length $t2, scalar @parts,
    unpack('%32C*', $t2);

# 3. A nested structure (hash of arrays of hashes), serialized by hand in sorted order.
my %tree;
for my $i (0 .. 4000 * $scale) {
    my $k = $words[$i % @words];
    push @{ $tree{ substr($k, 0, 2) } }, { id => $i, word => $k, len => length $k, tags => [ map { $_ * $i % 97 } 1 .. 3 ] };
}
sub ser {
    my ($v) = @_;
    return 'null' unless defined $v;
    if (ref $v eq 'HASH')  { return '{' . join(',', map { "\"$_\":" . ser($v->{$_}) } sort keys %$v) . '}' }
    if (ref $v eq 'ARRAY') { return '[' . join(',', map { ser($_) } @$v) . ']' }
    return $v =~ /^-?\d+$/ ? $v : "\"$v\"";
}
my $json = ser(\%tree);
printf "serialized: %d bytes, checksum %d, %d groups\n", length $json, unpack('%32C*', $json), scalar keys %tree;

# 4. Memoized recursion on big decimal strings (Fibonacci by string addition).
my %memo;
sub add { my ($x, $y) = @_; my ($r, $c) = ('', 0);
    my @x = reverse split //, $x; my @y = reverse split //, $y;
    for my $i (0 .. ($#x > $#y ? $#x : $#y)) { my $s = ($x[$i] // 0) + ($y[$i] // 0) + $c; $r .= $s % 10; $c = int($s / 10) }
    $r .= $c if $c; return scalar reverse $r }
sub fib { my $n = shift; return $n if $n < 2; return $memo{$n} //= add(fib($n - 1), fib($n - 2)) }
fib($_) for 1 .. 700; # ascending: the recursion stays shallow
my $f = fib(700);
printf "fib(700) has %d digits: %s...%s\n", length $f, substr($f, 0, 12), substr($f, -12);

# 5. Array churn: splice, sort, reverse, grep, unique.
my @a = map { rnd() % 100000 } 1 .. 50000 * $scale;
for (1 .. 200) { my $at = rnd() % @a; splice @a, $at, 10, map { rnd() % 1000 } 1 .. 7 }
my @s = sort { $a <=> $b } @a;
my %seen; my @u = grep { !$seen{$_}++ } @s;
printf "array: %d, unique %d, min %d, max %d, median %d\n", scalar @a, scalar @u, $s[0], $s[-1], $s[@s / 2];

# 6. Many small strings built, kept and dropped.
my @keep;
for my $i (1 .. 100000 * $scale) {
    my $s = sprintf "%05d:%s:%x", $i, $words[$i % @words], $i * 2654435761 % 4294967296;
    push @keep, $s if $i % 7 == 0;
}
printf "kept %d strings, last %s\n", scalar @keep, $keep[-1];
