#!/bin/sh
# Turns a soak CSV (tests/soak/soak_test.cpp) into a PNG: PSS of the process tree, process
# count, open descriptors of the host and the worker(s), and requests done/failed over time.
#
#   tests/soak/plot.sh soak.csv [out.png]      (default: the CSV's name with .png)
#
# Needs gnuplot without X (Debian: apt-get install gnuplot-nox); only for the picture, the
# soak test itself does not need it.
set -eu
csv=${1:?usage: $0 soak.csv [out.png]}
png=${2:-${csv%.csv}.png}
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot.sh: gnuplot not found; install it with: apt-get install gnuplot-nox" >&2
    exit 2
fi
[ -r "$csv" ] || { echo "plot.sh: cannot read $csv" >&2; exit 1; }
gnuplot <<GNUPLOT
set datafile separator ','
set terminal pngcairo size 1200,900 noenhanced font ',10'
set output '$png'
set key autotitle columnhead below horizontal
set grid
set multiplot layout 3,1 title 'Byparr soak: $(basename "$csv")'
set ylabel 'MiB'
set y2label 'processes'
set y2tics
set ytics nomirror
plot '$csv' using 1:2 with lines lw 2 title 'PSS of the process tree (MiB)', \
     '' using 1:3 axes x1y2 with steps title 'processes in the tree'
unset y2label
unset y2tics
set ytics mirror
set ylabel 'open fds'
plot '$csv' using 1:4 with steps title 'host fds', '' using 1:5 with steps title 'worker fds'
set ylabel 'requests'
set xlabel 'seconds'
plot '$csv' using 1:7 with lines title 'done', '' using 1:8 with lines lw 2 title 'failed'
unset multiplot
GNUPLOT
echo "$png"
