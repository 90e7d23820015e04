#!/bin/sh
# An oracle for devfs::load, written for cudajail's tests from the steps rc.subr's
# devfs_rulesets_from_file takes (libexec/rc/rc.subr): `read` each line, skip `#` lines, take
# `[name=N]` headers apart with expr and assign name=N with eval, cut rule lines at the first
# backslash-hash and eval them after `devfs rule -s $N`. Globbing is off. `devfs` here only
# prints its arguments (unit separator between words, record separator after each command), so
# a real POSIX shell, not our model of it, decides what each line becomes. Its own variables
# start with __ so that generated `$name`s do not meet them.
devfs() {
	printf 'devfs'
	for __w in "$@"; do printf '\037%s' "$__w"; done
	printf '\036'
}
set -f
while read __line; do
	case $__line in
	\#*) continue ;;
	\[*\]*)
		__num=`expr "$__line" : "\[.*=\([0-9]*\)\]"`
		if [ -z "$__num" ]; then printf 'STOP\036'; break; fi
		__nm=`expr "$__line" : "\[\(.*\)=[0-9]*\]"`
		if [ -z "$__nm" ]; then printf 'STOP\036'; break; fi
		eval $__nm=\$__num
		devfs rule -s $__num delset
		;;
	*)
		__cmd="${__line%%"\#*"}"
		if [ -n "$__cmd" ]; then
			eval devfs rule -s $__num $__cmd
		fi
		;;
	esac
done < "$1"
