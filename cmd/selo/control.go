package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/control"
)

// control returns the operators and dual-control service.
func (c *cli) control(ctx context.Context) (*control.Service, error) {
	a, err := c.authority(ctx)
	if err != nil {
		return nil, err
	}
	return control.New(control.Config{
		Store: c.store, Authority: a, Logger: c.log,
		Executors: map[selo.ProposalKind]control.Executor{
			selo.ProposalProfileSet: control.ProfileExecutor(filepath.Join(c.dataDir, "profiles")),
		},
	})
}

// localPrincipal is the CLI on the CA machine: whoever runs it can read the
// database and the key store directly, so it holds every role; what it does
// under dual control without a proposal is break-glass, audited.
func localPrincipal(breakGlass bool) control.Principal {
	return control.Principal{Actor: actor(), Roles: selo.Roles, BreakGlass: breakGlass}
}

// breakGlassWarning is printed whenever the local CLI skips dual control.
const breakGlassWarning = `WARNING: BREAK-GLASS. This runs without a second admin's approval.
It is recorded in the audit log as dualcontrol.break_glass for the auditor
to review; use 'selo proposal' for the normal two-admin path.`

// dualControlled guards a local command that dual control covers (ca create,
// ca retire): with require it refuses; otherwise it warns and records a
// dualcontrol.break_glass audit entry before the command runs.
func (c *cli) dualControlled(cmd *cobra.Command, require bool, action, object string, details any, kind selo.ProposalKind) error {
	if require {
		return selo.Errorf(selo.EFORBIDDEN, "%s is under dual control here (require-proposal): propose it with 'selo proposal create %s', have a second admin approve it, then 'selo proposal execute ID'", action, kind)
	}
	svc, err := c.control(cmd.Context())
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stderr, breakGlassWarning)
	return svc.BreakGlass(cmd.Context(), localPrincipal(true), action, object, details)
}

func parseRoleFlags(roles []string) ([]selo.Role, error) {
	rs, err := selo.ParseRoles(roles)
	if err != nil {
		return nil, usagef("%s", selo.ErrorMessage(err))
	}
	return rs, nil
}

const rolesHelp = `Roles (several may be given; they are not ranked, an admin is not an officer):
  admin       CAs, profiles, key-store operations (all under dual control),
              operators and API keys, CA revocation, proposals
  officer     orders, identity checks, issuance, revocation, holder accounts
  auditor     reads everything an officer or admin reads; writes nothing
  integrator  issues and reads certificates (an automated client)`

const adminGateHelp = `Once two admins exist, a new account or key with the admin role starts
disabled: one admin proposes 'admin.grant' for it, a different admin
approves, and executing the proposal enables it (so no admin can make a
second admin and approve their own proposals). --break-glass enables it at
once and is recorded as dualcontrol.break_glass.`

func (c *cli) operatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Manage back-office operator accounts (officers, admins, auditors)",
		Long: `Operators are the people who sign in to the back office (/desk) with a user
name and a password (stored as an argon2id hash). Programs use API keys
('selo apikey') instead.

` + rolesHelp,
	}
	var roles []string
	var passwordFile string
	var breakGlass bool
	create := &cobra.Command{
		Use:   "create USER --role ROLE [--role ROLE...] [--password-file FILE]",
		Short: "Create an operator account",
		Long: `Create makes an operator account. The password (at least 12 characters) comes
from --password-file, SELO_OPERATOR_PASSWORD, or a prompt.

` + rolesHelp + `

` + adminGateHelp,
		Example: `  selo operator create ana --role officer --password-file ana.pw
  selo operator create rui --role admin --role auditor`,
		Args: exactArgs(1, "operator create needs a user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(roles) == 0 {
				return usagef("operator create needs --role (admin, officer, auditor or integrator)")
			}
			rs, err := parseRoleFlags(roles)
			if err != nil {
				return err
			}
			svc, err := c.control(cmd.Context())
			if err != nil {
				return err
			}
			password, err := c.readPassword(passwordFile, "SELO_OPERATOR_PASSWORD", "Password for "+args[0], true)
			if err != nil {
				return err
			}
			if breakGlass {
				fmt.Fprintln(c.stderr, breakGlassWarning)
			}
			op, err := svc.CreateOperator(cmd.Context(), localPrincipal(breakGlass), args[0], password, rs)
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(operatorToOutput(op))
			}
			fmt.Fprintf(c.stdout, "Created operator %s (%s)\n", op.Username, selo.JoinRoles(op.Roles))
			if op.Disabled {
				fmt.Fprintf(c.stdout, "It is disabled until an admin.grant proposal is approved and executed:\n  selo proposal create admin.grant --params '{\"operator\":\"%s\"}' --reason ... --operator YOU\n", op.Username)
			}
			return nil
		},
	}
	create.Flags().StringSliceVar(&roles, "role", nil, "role: admin, officer, auditor, integrator (repeatable)")
	create.Flags().StringVar(&passwordFile, "password-file", "", "file holding the password (or set SELO_OPERATOR_PASSWORD)")
	create.Flags().BoolVar(&breakGlass, "break-glass", false, "enable a new admin at once without a second admin (audited as dualcontrol.break_glass)")
	cmd.AddCommand(create, &cobra.Command{
		Use:   "list",
		Short: "List operator accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.control(cmd.Context())
			if err != nil {
				return err
			}
			ops, err := svc.ListOperators(cmd.Context())
			if err != nil {
				return err
			}
			out := make([]operatorOutput, 0, len(ops))
			for _, op := range ops {
				out = append(out, operatorToOutput(op))
			}
			if c.jsonOut {
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tROLES\tDISABLED\tCREATED")
			for _, op := range out {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", op.Username, strings.Join(op.Roles, ","), op.Disabled, op.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}, c.operatorSwitchCommand(true), c.operatorSwitchCommand(false))
	return cmd
}

type operatorOutput struct {
	Username  string    `json:"username"`
	Roles     []string  `json:"roles"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func operatorToOutput(op *selo.Operator) operatorOutput {
	roles := make([]string, len(op.Roles))
	for i, r := range op.Roles {
		roles[i] = string(r)
	}
	return operatorOutput{Username: op.Username, Roles: roles, Disabled: op.Disabled, CreatedAt: op.CreatedAt}
}

func (c *cli) operatorSwitchCommand(disable bool) *cobra.Command {
	verb := "enable"
	if disable {
		verb = "disable"
	}
	var breakGlass bool
	cmd := &cobra.Command{
		Use:   verb + " USER",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " an operator account",
		Args:  exactArgs(1, "operator "+verb+" needs a user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.control(cmd.Context())
			if err != nil {
				return err
			}
			if err := svc.SetOperatorDisabled(cmd.Context(), localPrincipal(breakGlass), args[0], disable); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Operator %s is %sd.\n", args[0], verb)
			return nil
		},
	}
	if !disable {
		cmd.Long = "Enable an operator account. " + adminGateHelp
		cmd.Flags().BoolVar(&breakGlass, "break-glass", false, "enable an admin without a second admin (audited as dualcontrol.break_glass)")
	}
	return cmd
}

func (c *cli) proposalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proposal",
		Short: "Dual control: propose, approve and execute CA, profile and key-store operations",
		Long: `Dual control: an admin proposes an operation, a different admin approves it,
and then either admin executes it, once, before it expires (24 hours after it
was proposed). Every step, and every refusal, is in the audit log.

Kinds and their --params (a JSON object):
  ca.create                {"id","name","parent","key_type","validity_days","org","country","policies"}
  ca.retire                {"ca": "ID"}
  profile.set              {"name": "NAME", "yaml": "<the profile file>"}  (--params-file helps)
  keystore.destroy-ca-key  {"ca": "ID"}  (a retired CA whose certificate has expired)
  admin.grant              {"operator": "USER"} or {"apikey": "NAME"}  (enables a new admin)

On this machine each step names an operator account (--operator) and asks
for its password (--password-file, SELO_OPERATOR_PASSWORD, or a prompt), so
the two admins are two accounts, checked. The same steps are in the REST API
under /api/v1/proposals for admin API keys.`,
	}
	var operator, passwordFile string
	principal := func(cmd *cobra.Command) (*control.Service, control.Principal, error) {
		svc, err := c.control(cmd.Context())
		if err != nil {
			return nil, control.Principal{}, err
		}
		if operator == "" {
			return nil, control.Principal{}, usagef("%s needs --operator USER (an operator account with the admin role)", cmd.CommandPath())
		}
		password, err := c.readPassword(passwordFile, "SELO_OPERATOR_PASSWORD", "Password of operator "+operator, false)
		if err != nil {
			return nil, control.Principal{}, err
		}
		op, err := svc.AuthenticateOperator(cmd.Context(), operator, password)
		if err != nil {
			return nil, control.Principal{}, err
		}
		return svc, control.OperatorPrincipal(op), nil
	}
	addAuth := func(sub *cobra.Command) *cobra.Command {
		sub.Flags().StringVar(&operator, "operator", "", "your operator account (admin role)")
		sub.Flags().StringVar(&passwordFile, "password-file", "", "file holding your password (or set SELO_OPERATOR_PASSWORD)")
		return sub
	}
	var params, paramsFile, reason, comment, status string
	create := addAuth(&cobra.Command{
		Use:   "create KIND (--params JSON | --params-file FILE) --reason TEXT --operator USER",
		Short: "Propose an operation",
		Example: `  selo proposal create ca.create --operator ana --reason "ECC hierarchy V2, ceremony 2026-12" \
    --params '{"id":"qualified-ecc-v2","name":"Example Qualified CA ECC V2","parent":"root-ecc-v1","key_type":"ecdsa-p384","validity_days":3650}'
  selo proposal create ca.retire --operator ana --reason "replaced by V2" --params '{"ca":"qualified-ecc-v1"}'`,
		Args: exactArgs(1, "proposal create needs a kind"),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := params
			if paramsFile != "" {
				b, err := os.ReadFile(paramsFile)
				if err != nil {
					return fmt.Errorf("read params file: %w", err)
				}
				body = string(b)
			}
			if body == "" {
				return usagef("proposal create needs --params or --params-file")
			}
			if reason == "" {
				return usagef("proposal create needs --reason")
			}
			svc, by, err := principal(cmd)
			if err != nil {
				return err
			}
			p, err := svc.Propose(cmd.Context(), by, selo.ProposalKind(args[0]), json.RawMessage(body), reason)
			if err != nil {
				return err
			}
			return c.printProposal(p, "Proposed")
		},
	})
	create.Flags().StringVar(&params, "params", "", "the operation's parameters, a JSON object")
	create.Flags().StringVar(&paramsFile, "params-file", "", "file holding the parameters")
	create.Flags().StringVar(&reason, "reason", "", "why, for the approver and the auditor")
	decide := func(approve bool) *cobra.Command {
		verb := "reject"
		if approve {
			verb = "approve"
		}
		sub := addAuth(&cobra.Command{
			Use:   verb + " ID --operator USER [--comment TEXT]",
			Short: strings.ToUpper(verb[:1]) + verb[1:] + " a pending proposal (not your own, to approve)",
			Args:  exactArgs(1, "proposal "+verb+" needs the proposal's ID"),
			RunE: func(cmd *cobra.Command, args []string) error {
				svc, by, err := principal(cmd)
				if err != nil {
					return err
				}
				f := svc.Reject
				if approve {
					f = svc.Approve
				}
				p, err := f(cmd.Context(), by, args[0], comment)
				if err != nil {
					return err
				}
				return c.printProposal(p, strings.ToUpper(verb[:1])+verb[1:]+"d")
			},
		})
		sub.Flags().StringVar(&comment, "comment", "", "a note for the audit log")
		return sub
	}
	execute := addAuth(&cobra.Command{
		Use:   "execute ID --operator USER",
		Short: "Run an approved proposal (once)",
		Args:  exactArgs(1, "proposal execute needs the proposal's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, by, err := principal(cmd)
			if err != nil {
				return err
			}
			a, err := c.authority(cmd.Context())
			if err != nil {
				return err
			}
			defer a.WaitCRLs()
			p, err := svc.Execute(cmd.Context(), by, args[0])
			if err != nil {
				return err
			}
			return c.printProposal(p, "Executed")
		},
	})
	list := &cobra.Command{
		Use:   "list [--status pending|approved|rejected|executed|failed|expired]",
		Short: "List proposals, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.control(cmd.Context())
			if err != nil {
				return err
			}
			ps, err := svc.ListProposals(cmd.Context(), selo.ProposalStatus(status), 0)
			if err != nil {
				return err
			}
			if c.jsonOut {
				out := make([]proposalOutput, 0, len(ps))
				for _, p := range ps {
					out = append(out, proposalToOutput(p))
				}
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tPROPOSED BY\tDECIDED BY\tEXPIRES")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Kind, p.Status, p.ProposedBy, p.DecidedBy, p.ExpiresAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "only proposals in this state")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a proposal with its parameters",
		Args:  exactArgs(1, "proposal show needs the proposal's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.control(cmd.Context())
			if err != nil {
				return err
			}
			p, err := svc.FindProposal(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return c.printProposal(p, "Proposal")
		},
	}
	cmd.AddCommand(create, decide(true), decide(false), execute, list, show)
	return cmd
}

type proposalOutput struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Status     string          `json:"status"`
	Params     json.RawMessage `json:"params"`
	Reason     string          `json:"reason"`
	ProposedBy string          `json:"proposed_by"`
	ExpiresAt  time.Time       `json:"expires_at"`
	DecidedBy  string          `json:"decided_by,omitempty"`
	ExecutedBy string          `json:"executed_by,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
}

func proposalToOutput(p *selo.Proposal) proposalOutput {
	out := proposalOutput{ID: p.ID, Kind: string(p.Kind), Status: string(p.Status), Params: json.RawMessage(p.Params),
		Reason: p.Reason, ProposedBy: p.ProposedBy, ExpiresAt: p.ExpiresAt, DecidedBy: p.DecidedBy, ExecutedBy: p.ExecutedBy}
	if p.Result != "" {
		out.Result = json.RawMessage(p.Result)
	}
	return out
}

func (c *cli) printProposal(p *selo.Proposal, what string) error {
	if c.jsonOut {
		return c.printJSON(proposalToOutput(p))
	}
	fmt.Fprintf(c.stdout, "%s %s: %s, %s\n  params: %s\n  reason: %s\n  proposed by %s, expires %s\n",
		what, p.ID, p.Kind, p.Status, p.Params, p.Reason, p.ProposedBy, p.ExpiresAt.Format(time.RFC3339))
	if p.DecidedBy != "" {
		fmt.Fprintf(c.stdout, "  decided by %s\n", p.DecidedBy)
	}
	if p.Result != "" {
		fmt.Fprintf(c.stdout, "  result: %s\n", p.Result)
	}
	return nil
}
