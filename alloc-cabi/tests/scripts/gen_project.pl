#!/usr/bin/perl
# Writes a C project for gcc to build: DIR/project.h, DIR/unit0.c .. unit<FILES-1>.c of FUNCS
# functions each (loops gcc vectorizes, switches, string tables, a struct, static inline
# helpers, chains of calls), and DIR/main.c, which prints one checksum per unit.
# Used by tests/real_programs.rs and scripts/bench-preload.sh.
#   perl gen_project.pl DIR FILES FUNCS
use strict;
use warnings;

my ($dir, $files, $funcs) = @ARGV;
die "usage: $0 DIR FILES FUNCS\n" unless defined $funcs && $files > 0 && $funcs > 0;
mkdir $dir unless -d $dir;

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!\n";
    print $fh $text;
    close $fh or die "$dir/$name: $!\n";
}

my $h = <<'C';
#include <stdint.h>
#include <stddef.h>
struct rec { uint64_t key; double weight; char name[24]; struct rec *next; };
static inline uint64_t mix(uint64_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; return x ^ (x >> 33);
}
#define CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))
C
$h .= "uint64_t unit${_}_run(uint64_t seed);\n" for 0 .. $files - 1;
write_file('project.h', $h);

for my $f (0 .. $files - 1) {
    my $c = "#include \"project.h\"\n#include <string.h>\n";
    $c .= "static const char *names${f}[] = {\"alpha\", \"beta\", \"gamma\", \"delta\", \"eps$f\"};\n";
    for my $k (0 .. $funcs - 1) {
        my $m    = $k % 5;
        my $mul  = 31 + 2 * $k;
        my $prev = $k - 1;
        my $call = $k == 0 ? 's' : "(s & 1) ? s : f${f}_$prev(s >> 1, r) + 1";
        $c .= <<"C";
static uint64_t f${f}_$k(uint64_t x, struct rec *r) {
  double acc[64]; uint64_t s = x + $k;
  for (int i = 0; i < 64; i++) acc[i] = (double)(mix(x + i) % 1000) * 0.5 + i;
  for (int i = 1; i < 64; i++) acc[i] += acc[i - 1] * 0.25;
  switch ((x >> $m) % 6) {
  case 0: s += (uint64_t)acc[63]; break;
  case 1: s ^= mix(s) + strlen(names${f}[x % 5]); break;
  case 2: s = s * $mul + (uint64_t)CLAMP(acc[x % 64], 3.0, 700.0); break;
  case 3: if (r) { r->key += s; r->weight += acc[7]; s += (uint64_t)r->weight; } break;
  case 4: for (int j = 0; j < $m + 3; j++) s = mix(s + j); break;
  default: s += $k * 7 + (x & 0xff);
  }
  return $call;
}
C
    }
    $c .= "uint64_t unit${f}_run(uint64_t seed) {\n";
    $c .= "  struct rec r = { seed, 1.0, \"unit$f\", 0 }; uint64_t s = seed;\n";
    $c .= "  s += f${f}_$_(s + $_, &r);\n" for 0 .. $funcs - 1;
    $c .= "  return s ^ r.key ^ (uint64_t)r.weight;\n}\n";
    write_file("unit$f.c", $c);
}

my $main = "#include <stdio.h>\n#include \"project.h\"\nint main(void) {\n";
$main .= "  printf(\"unit$_: %llu\\n\", (unsigned long long)unit${_}_run($_ + 1));\n" for 0 .. $files - 1;
$main .= "  return 0;\n}\n";
write_file('main.c', $main);
