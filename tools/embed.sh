#!/bin/sh
# embed.sh NAME FILE: print a C file defining `const char NAME[]` holding
# FILE's bytes followed by a NUL, and `const size_t NAME_len`.
set -e
name=$1
file=$2
printf '/* Generated from %s by tools/embed.sh; do not edit. */\n' "$(basename "$file")"
printf '#include <stddef.h>\n'
printf 'extern const char %s[];\nextern const size_t %s_len;\n' "$name" "$name"
printf 'const char %s[] = {\n' "$name"
od -An -v -tu1 "$file" | awk '{ line = ""; for (i = 1; i <= NF; i++) line = line $i ","; print "\t" line }'
printf '\t0\n};\n'
printf 'const size_t %s_len = sizeof(%s) - 1;\n' "$name" "$name"
