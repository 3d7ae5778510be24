#!/bin/sh
# After a failed ctest run: each failed test's assertion messages, short, at the very end.
# CI keeps only the head and the tail of a long log, and --output-on-failure puts a failed
# test's output in the middle, among the passing tests; this repeats what matters last.
# Usage: failure_summary.sh BUILD_DIR
log="$1/Testing/Temporary/LastTest.log"
failed="$1/Testing/Temporary/LastTestsFailed.log"
[ -s "$failed" ] && [ -f "$log" ] || exit 0
echo
echo "==== Failed tests: their assertions (full output above, and in $log) ===="
# Each test's section runs from its "N/M Testing: name" line to its "Test Passed." (or
# "Test Failed.", or another verdict) line. In a failed one, keep gtest's failure blocks
# (the "file:line: Failure" line and the few after it), [  FAILED  ] lines, the corpus
# table's wrong rows and sanitizer headlines. At most 60 lines per test.
awk '
    /^[0-9]+\/[0-9]+ Testing: / { name = $0; sub(/^[0-9]+\/[0-9]+ Testing: /, "", name)
                                  n = 0; keep = 0; buf = ""; next }
    /^Test Passed\./ { buf = ""; next }
    /^Test [A-Z][a-z]+\./ { printf "-- %s (%s)\n%s", name, $0, buf
                            if (n > 60) print "  (more above)"
                            buf = ""; next }
    /: Failure$/ { keep = 9 }
    /ERROR: [A-Za-z]+Sanitizer/ || /runtime error:/ { keep = 6 }
    /^\[  FAILED  \]/ || (/ expected [a-z]+ +got [a-z]+ / && $3 != $5) { if (keep < 1) keep = 1 }
    keep > 0 { if (n++ < 60) buf = buf "  " $0 "\n"; keep-- }
' "$log"
echo "==== $(wc -l <"$failed") failed: $failed ===="
