#!/usr/bin/env bash
# man-from-help: writes a man(7) page from a program's own --help text, so the installed page
# says what the binary says. For a program with subcommands (nearft), every command listed under
# "commands:" in its --help gets a subsection with its own --help text.
# Usage: man-from-help.sh OUT PROGRAM SECTION VERSION "one-line summary" BINARY
set -euo pipefail
out=$1 prog=$2 sect=$3 version=$4 summary=$5 bin=$6

# esc: help text as roff body: backslashes and hyphens escaped, no line read as a request.
esc() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
# No stdin and a time limit: a command that ignored --help must not hang the build.
helptext() { timeout 20 "$bin" "$@" --help </dev/null 2>&1 || true; }

top=$(helptext)
[ -n "$top" ] || { echo "man-from-help: $bin --help printed nothing" >&2; exit 1; }
upper=$(printf '%s' "$prog" | tr '[:lower:]' '[:upper:]')
{
  printf '.TH %s %s "" "nearft %s" "nearft manual"\n' "$upper" "$sect" "$version"
  printf '.SH NAME\n%s \\- %s\n' "$prog" "$(printf '%s' "$summary" | esc)"
  printf '.SH SYNOPSIS\n.nf\n'
  printf '%s\n' "$top" | grep '^usage:' | sed 's/^usage: //' | esc
  printf '.fi\n.SH DESCRIPTION\n.nf\n'
  printf '%s\n' "$top" | grep -v '^usage:' | esc
  printf '.fi\n'
  # Subcommands: "  WORD [WORD]  text" lines under "commands:".
  cmds=$(printf '%s\n' "$top" | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z-]*\)\( [a-z-]*\)\{0,1\} .*/\1\2/p')
  if [ -n "$cmds" ]; then
    printf '.SH COMMANDS\n'
    seen=""
    while read -r c1 c2; do
      text=$(helptext "$c1" ${c2:+"$c2"})
      case "$text" in usage:*) ;; *) text=$(helptext "$c1"); c2="" ;; esac
      case "$text" in usage:*) ;; *) continue ;; esac
      sum=$(printf '%s' "$text" | cksum)
      case " $seen " in *" $sum "*) continue ;; esac
      seen="$seen $sum"
      printf '.SS "%s %s"\n.nf\n' "$prog" "$c1${c2:+ $c2}"
      printf '%s\n' "$text" | esc
      printf '.fi\n'
    done <<<"$cmds"
  fi
  printf '.SH SEE ALSO\n.BR nearftd (8)\n'
} >"$out.tmp"
mv "$out.tmp" "$out"
