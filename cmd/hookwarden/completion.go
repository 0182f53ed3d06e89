package main

// This file writes the shell completion scripts of `hookwarden completion`.
// They are generated from the flag sets themselves, so a new flag is
// completed without touching them.

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/hookwarden/hookwarden/internal/send"
)

// subcommands are hookwarden's subcommands with what they do, for
// completion.
var subcommands = [][2]string{
	{"send", "sign and send a test delivery"},
	{"version", "print the version, the commit and the Go version"},
	{"completion", "print a shell completion script"},
}

// shells are the shells `hookwarden completion` writes a script for.
var shells = []string{"bash", "zsh", "fish"}

const completionUsage = `Usage: hookwarden completion bash|zsh|fish

Prints a script that completes hookwarden's subcommands and flags.
  bash: source <(hookwarden completion bash)       (or save it in /etc/bash_completion.d/)
  zsh:  source <(hookwarden completion zsh)        (bash-style completion through bashcompinit)
  fish: hookwarden completion fish > ~/.config/fish/completions/hookwarden.fish
`

// completion runs `hookwarden completion SHELL`.
func completion(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(stdout, completionUsage)
		return 0
	}
	if len(args) != 1 {
		fmt.Fprintf(stderr, "hookwarden completion: give one shell (%s), got %d arguments\n\n%s", strings.Join(shells, ", "), len(args), completionUsage)
		return 2
	}
	opts := DefaultOptions()
	operator, sender := newFlagSet(&opts, new(zap.Options)), send.Flags()
	switch args[0] {
	case "bash":
		writeBash(stdout, operator, sender)
	case "zsh":
		fmt.Fprint(stdout, "#compdef hookwarden\n# zsh completion for hookwarden: the bash completion, through bashcompinit.\n"+
			"autoload -U +X bashcompinit && bashcompinit\n")
		writeBash(stdout, operator, sender)
	case "fish":
		writeFish(stdout, operator, sender)
	default:
		fmt.Fprintf(stderr, "hookwarden completion: unknown shell %q: use %s\n", args[0], strings.Join(shells, ", "))
		return 2
	}
	return 0
}

// flagWords lists the flags of fs as --name, all of them and those that
// take a value (every flag but the booleans).
func flagWords(fs *flag.FlagSet) (all, valued []string) {
	fs.VisitAll(func(f *flag.Flag) {
		all = append(all, "--"+f.Name)
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			valued = append(valued, "--"+f.Name)
		}
	})
	return all, valued
}

func subcommandNames() []string {
	names := make([]string, 0, len(subcommands))
	for _, s := range subcommands {
		names = append(names, s[0])
	}
	return names
}

// writeBash writes a bash completion function. It finds the subcommand as
// the first word that is neither a flag nor a flag's value (bash splits
// --flag=value into three words), then completes that subcommand's flags,
// a payload file for send, a shell for completion, or the operator's flags
// and the subcommands.
func writeBash(w io.Writer, operator, sender *flag.FlagSet) {
	opAll, opValued := flagWords(operator)
	sendAll, sendValued := flagWords(sender)
	fmt.Fprintf(w, `# bash completion for hookwarden: source <(hookwarden completion bash)
_hookwarden() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub="" valued=" %[1]s " i
  for ((i = 1; i < COMP_CWORD; i++)); do
    local word=${COMP_WORDS[i]}
    case $word in
      -*)
        if [[ ${COMP_WORDS[i+1]} == "=" ]]; then
          ((i += 2))
        elif [[ $valued == *" $word "* || $valued == *" -$word "* ]]; then
          ((i++))
        fi ;;
      *)
        sub=$word
        [[ $sub == send ]] && valued=" %[2]s "
        break ;;
    esac
  done
  # The value of a flag: complete a file name.
  if [[ $prev == "=" || $valued == *" $prev "* || $valued == *" -$prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  case $sub in
    "")
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "%[3]s" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "%[4]s" -- "$cur"))
      fi ;;
    send)
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "%[5]s" -- "$cur"))
      else
        COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    completion)
      [[ $prev == completion ]] && COMPREPLY=($(compgen -W "%[6]s" -- "$cur")) ;;
  esac
}
complete -o default -F _hookwarden hookwarden
`, strings.Join(opValued, " "), strings.Join(sendValued, " "), strings.Join(opAll, " "),
		strings.Join(subcommandNames(), " "), strings.Join(sendAll, " "), strings.Join(shells, " "))
}

// writeFish writes fish completions: the subcommands and the operator's
// flags before a subcommand, send's flags and a payload file after send,
// a shell after completion.
func writeFish(w io.Writer, operator, sender *flag.FlagSet) {
	fmt.Fprintln(w, "# fish completion for hookwarden: hookwarden completion fish > ~/.config/fish/completions/hookwarden.fish")
	fmt.Fprintln(w, "complete -c hookwarden -f")
	for _, s := range subcommands {
		fmt.Fprintf(w, "complete -c hookwarden -n __fish_use_subcommand -a %s -d %s\n", s[0], fishQuote(s[1]))
	}
	flags := func(fs *flag.FlagSet, condition string) {
		fs.VisitAll(func(f *flag.Flag) {
			line := fmt.Sprintf("complete -c hookwarden -n %s -l %s -d %s", fishQuote(condition), f.Name, fishQuote(description(f.Usage)))
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				line += " -r"
			}
			fmt.Fprintln(w, line)
		})
	}
	flags(operator, "__fish_use_subcommand")
	flags(sender, "__fish_seen_subcommand_from send")
	fmt.Fprintln(w, "complete -c hookwarden -n '__fish_seen_subcommand_from send' -F")
	fmt.Fprintf(w, "complete -c hookwarden -n '__fish_seen_subcommand_from completion' -a %s\n", fishQuote(strings.Join(shells, " ")))
}

// fishQuote quotes s for fish, in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// description is a flag's usage as a fish description.
func description(usage string) string {
	return strings.TrimSuffix(usage, ".")
}
