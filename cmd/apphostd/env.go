package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

func init() { register(newEnvCmd) }

func newEnvCmd() *cobra.Command {
	var export, jsonOut bool
	cmd := &cobra.Command{
		Use:   "env [NAME...]",
		Short: "Print the environment a consumer of NAME (or of everything) receives",
		Long: `Print, one KEY=VALUE per line and sorted by key, the environment a resource
that references NAME... (every resource if none are named) would receive:
services__*, NAME_*, ConnectionStrings__* and so on. Values are real, secrets
included, so keep the output away from logs.

Values are written so that both dotenv readers and shells get them back
exactly: plain values as they are, others in single quotes, and values with a
single quote, backslash or newline in double quotes with \\ \" \n \r \$
escapes. With --export every line starts with "export " and quoting follows
POSIX sh, for

  eval "$(apphostd env --export)"

--json prints one JSON object instead.`,
		Args: usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if export && jsonOut {
				return withCode(exitUsage, fmt.Errorf("--export and --json exclude each other"))
			}
			c, p, err := dialProject(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			env, err := c.Env(cmd.Context(), args...)
			if err != nil {
				return daemonErr(p, err)
			}
			if jsonOut {
				if env == nil {
					env = map[string]string{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(env)
			}
			return writeEnv(cmd.OutOrStdout(), cmd.ErrOrStderr(), env, export)
		},
	}
	cmd.Flags().BoolVar(&export, "export", false, `prefix lines with "export " and quote for a POSIX shell`)
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print a JSON object")
	return thinClient(cmd)
}

// shellName is what a POSIX shell accepts as a variable name.
var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// plainValue needs no quoting in a dotenv file or a shell word: no
// whitespace, quotes, $, `, \, #, ;, &, |, <, >, (, ), *, ?, [, ], {, }, ~
// or !.
var plainValue = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// writeEnv prints env sorted by key. With export, names a shell cannot
// take are skipped with a note on warn, since one bad line would make the
// whole eval fail.
func writeEnv(w, warn io.Writer, env map[string]string, export bool) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if export && !shellName.MatchString(k) {
			fmt.Fprintf(warn, "apphostd: skipped %q: not a shell variable name\n", k)
			continue
		}
		b.WriteString(envLine(k, env[k], export))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// envLine formats one variable: for a POSIX shell with export, else for a
// dotenv file.
func envLine(k, v string, export bool) string {
	if export {
		return "export " + k + "=" + shellQuote(v)
	}
	return k + "=" + dotenvQuote(v)
}

// shellQuote quotes v as one POSIX sh word.
func shellQuote(v string) string {
	if plainValue.MatchString(v) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// dotenvQuote quotes v for dotenv readers. Single quotes are literal in
// the common readers (godotenv, Docker Compose, python-dotenv, Ruby's
// dotenv) and in sh; what cannot go there (a single quote, a backslash,
// a newline) goes in double quotes with the escapes godotenv and Ruby's
// dotenv read.
func dotenvQuote(v string) string {
	if plainValue.MatchString(v) {
		return v
	}
	if !strings.ContainsAny(v, "'\\\n\r") {
		return "'" + v + "'"
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "$", `\$`).Replace(v) + `"`
}
