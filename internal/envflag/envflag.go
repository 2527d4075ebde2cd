// Package envflag gives every flag of a FlagSet an environment-variable
// fallback, so a binary can be configured the same way on a laptop (flags),
// in a container (environment) and in a Flex Template (flags again).
//
// The variable for flag "spool-dir" with prefix "ADCLICK" is
// ADCLICK_SPOOL_DIR. Precedence: command line, then environment, then the
// flag's documented default.
package envflag

import (
	"flag"
	"fmt"
	"strings"
)

// Name returns the environment variable that backs flag name.
func Name(prefix, name string) string {
	v := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
	if prefix == "" {
		return v
	}
	return prefix + "_" + v
}

// Parse parses args into fs and then fills every flag that was not given on
// the command line from its environment variable, when that is set.
// lookup is os.LookupEnv in production; tests pass their own.
func Parse(fs *flag.FlagSet, prefix string, args []string, lookup func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := Name(prefix, f.Name)
		if v, ok := lookup(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("flag -%s from $%s: %w", f.Name, env, e)
			}
		}
	})
	return err
}

// DocumentEnv appends "($PREFIX_NAME)" to every flag's usage so -help shows
// the environment variable next to the default.
func DocumentEnv(fs *flag.FlagSet, prefix string) {
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage = fmt.Sprintf("%s ($%s)", f.Usage, Name(prefix, f.Name))
	})
}

// List splits a comma-separated flag value, dropping blanks.
func List(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
