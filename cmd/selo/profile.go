package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

func (c *cli) profileCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "List and show certificate profiles",
		Long: `Profiles say what a certificate may be. Five are built in; to change one, copy
it into DATA/profiles/NAME.yaml and edit it there ('selo profile show NAME >
DATA/profiles/NAME.yaml'): a file there replaces the built-in of the same name.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the profiles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			profiles, err := pki.LoadProfiles(filepath.Join(c.dataDir, "profiles"))
			if err != nil {
				return err
			}
			names := make([]string, 0, len(profiles))
			for n := range profiles {
				names = append(names, n)
			}
			sort.Strings(names)
			if c.jsonOut {
				out := make([]*pki.Profile, 0, len(names))
				for _, n := range names {
					out = append(out, profiles[n])
				}
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tDAYS\tKEYS\tDESCRIPTION")
			for _, n := range names {
				p := profiles[n]
				fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%s\n", p.Name, p.Kind, p.ValidityDays, p.KeyTypes, p.Description)
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "show NAME",
		Short: "Print a profile's YAML (a built-in, or the operator's copy)",
		Args:  exactArgs(1, "profile show needs a profile name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			own := filepath.Join(c.dataDir, "profiles", args[0]+".yaml")
			if b, err := os.ReadFile(own); err == nil {
				_, err = c.stdout.Write(b)
				return err
			}
			b, ok := pki.BuiltinProfileFiles()[args[0]]
			if !ok {
				return selo.Errorf(selo.ENOTFOUND, "no profile named %q (see 'selo profile list')", args[0])
			}
			_, err := c.stdout.Write(b)
			return err
		},
	})
	return cmd
}
