# bash completion for jbus(1), the command-line client of jbusd.
#
# Subcommands and options are read from the help of the jbus being
# completed ('jbus --help', 'jbus SUBCOMMAND --help'), so they always match
# that binary. The target of 'send' and 'call' is completed with the names
# of the clients connected to the broker, asked with 'jbus clients' on the
# socket the command line names (-s/--socket, else $JBUS_SOCKET and the
# usual defaults); the listing's own connection is left out.

# _jbus_options JBUS [SUBCOMMAND]: one line per option of the help,
# "SHORT LONG ARG", SHORT "-" when there is none, ARG "-" (no value),
# "req" or "opt" (--long[=VALUE]).
_jbus_options()
{
	"$1" ${2:+"$2"} --help 2>/dev/null | awk '
		/^ +-/ {
			line = $0
			sub(/^ +/, "", line)
			short = "-"
			if (match(line, /^-[A-Za-z0-9], /)) {
				short = substr(line, 1, 2)
				line = substr(line, 5)
			}
			if (!match(line, /^--[a-z0-9][a-z0-9-]*/))
				next
			long = substr(line, 1, RLENGTH)
			rest = substr(line, RLENGTH + 1)
			arg = "-"
			if (rest ~ /^\[=[A-Z]+\]/)
				arg = "opt"
			else if (rest ~ /^ [A-Z]+( |$)/)
				arg = "req"
			print short, long, arg
		}'
}

# _jbus_subcommands JBUS: the subcommands 'jbus --help' lists, help included.
_jbus_subcommands()
{
	"$1" --help 2>/dev/null | awk '
		/^Subcommands:/ { on = 1; next }
		on && /^$/ { exit }
		on && /^  [a-z]/ { print $1 }'
}

# _jbus_clients JBUS [SOCKET]: the names of the connected clients.
_jbus_clients()
{
	local me="jbus-complete-$$" t=()

	command -v timeout >/dev/null 2>&1 && t=(timeout 3)
	"${t[@]}" "$1" ${2:+-s "$2"} -n "$me" clients 2>/dev/null |
		awk -v me="$me" 'NR > 1 && $1 != me { print $1 }'
}

# _jbus_option_arg SPECS OPTION: "req", "opt" or "-" for an option of SPECS
# (the output of _jbus_options); nothing when it is not one.
_jbus_option_arg()
{
	local s l a
	while read -r s l a; do
		if [[ $2 == "$s" || $2 == "$l" ]]; then
			printf '%s\n' "$a"
			return
		fi
	done <<<"$1"
}

_jbus()
{
	local cur=${COMP_WORDS[COMP_CWORD]} jbus=${COMP_WORDS[0]}
	local -a words=()
	local i t glue=0 cword word

	# words as jbus sees them: bash splits --opt=VALUE at the '=' (and at ':')
	for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
		t=${COMP_WORDS[i]}
		if [[ $t == [=:] ]] && ((${#words[@]} > 1)); then
			words[${#words[@]} - 1]+=$t
			glue=1
		elif ((glue)); then
			words[${#words[@]} - 1]+=$t
			glue=0
		else
			words+=("$t")
		fi
	done
	cword=$((${#words[@]} - 1))
	word=${words[cword]}
	[[ $cur == [=:] ]] && cur=
	# a literal "~/" the shell has not expanded yet
	# shellcheck disable=SC2088
	[[ $jbus == "~/"* ]] && jbus=$HOME/${jbus#"~/"}

	# nargs: the subcommand's arguments so far; nafter: those after its '--'
	local specs sub='' socket='' want='' nargs=0 nafter=0 dashdash=0 endopts=0 w a name value
	specs=$(_jbus_options "$jbus")
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ -n $want ]]; then
			[[ $want == -s || $want == --socket ]] && socket=$w
			want=
			continue
		fi
		if ((dashdash)); then
			((nargs++, nafter++))
			continue
		fi
		if [[ $w == -- ]]; then
			if [[ -n $sub ]]; then dashdash=1; else endopts=1; fi
			continue
		fi
		# options may follow the subcommand's arguments; before it, '--' ends them
		if [[ $w == -?* ]] && { [[ -n $sub ]] || ! ((endopts)); }; then
			if [[ $w == --* ]]; then
				name=${w%%=*}
				a=$(_jbus_option_arg "$specs" "$name")
				if [[ $w == *=* ]]; then
					[[ $name == --socket ]] && socket=${w#*=}
				elif [[ $a == req ]]; then
					want=$name
				fi
			else
				# a cluster of short options: the first that takes a value ends it
				for ((t = 1; t < ${#w}; t++)); do
					name=-${w:t:1}
					a=$(_jbus_option_arg "$specs" "$name")
					if [[ $a == req ]]; then
						value=${w:t+1}
						if [[ -n $value ]]; then
							[[ $name == -s ]] && socket=$value
						else
							want=$name
						fi
						break
					fi
				done
			fi
			continue
		fi
		if [[ -z $sub ]]; then
			sub=$w
			specs=$(_jbus_options "$jbus" "$sub")
		else
			((nargs++))
		fi
	done
	# shellcheck disable=SC2088
	[[ $socket == "~/"* ]] && socket=$HOME/${socket#"~/"}

	# the value of an option
	if [[ -n $want ]]; then
		case $want in
		-s | --socket)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			;;
		--on-full)
			mapfile -t COMPREPLY < <(compgen -W "disconnect drop latest" -- "$cur")
			;;
		esac
		return 0
	fi
	if ! ((dashdash)) && [[ $word == --*=* ]]; then
		name=${word%%=*}
		value=${word#*=}
		# when '=' does not split words, the reply carries the option too
		local pre=
		[[ $cur == "$word" ]] && pre=$name=
		case $name in
		--socket | --dgram)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$value")
			;;
		--on-full)
			mapfile -t COMPREPLY < <(compgen -W "disconnect drop latest" -- "$value")
			;;
		esac
		[[ -n $pre ]] && COMPREPLY=("${COMPREPLY[@]/#/$pre}")
		return 0
	fi
	if ! ((dashdash)) && [[ $word == -* ]] && { [[ -n $sub ]] || ! ((endopts)); }; then
		local -a opts=()
		local s l
		while read -r s l a; do
			[[ $s != - ]] && opts+=("$s")
			opts+=("$l")
			[[ $a == opt ]] && opts+=("$l=")
		done <<<"$specs"
		mapfile -t COMPREPLY < <(compgen -W "${opts[*]}" -- "$cur")
		[[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
		return 0
	fi

	# an argument
	if [[ -z $sub ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_jbus_subcommands "$jbus")" -- "$cur")
		return 0
	fi
	case $sub in
	help)
		((nargs == 0)) &&
			mapfile -t COMPREPLY < <(compgen -W "$(_jbus_subcommands "$jbus" |
				grep -vx help)" -- "$cur")
		;;
	send | call)
		((nargs == 0)) &&
			mapfile -t COMPREPLY < <(compgen -W "$(_jbus_clients "$jbus" "$socket")" \
				-- "$cur")
		;;
	serve)
		if ((dashdash && nafter == 0)); then
			mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
		elif ((dashdash)); then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		;;
	esac
	return 0
}

complete -F _jbus jbus
