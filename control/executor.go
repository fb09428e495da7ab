package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/pki"
)

// decodeParams reads params into v, refusing unknown fields: a misspelt
// parameter must not be approved as if it were absent.
func decodeParams(params json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return selo.Errorf(selo.EINVALID, "proposal parameters: %s", err.Error())
	}
	return nil
}

// CACreateParams are the parameters of a ca.create proposal (those of
// 'selo ca create').
type CACreateParams struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Parent       string   `json:"parent,omitempty"`
	KeyType      string   `json:"key_type"`
	ValidityDays int      `json:"validity_days"`
	Organization string   `json:"org,omitempty"`
	Country      string   `json:"country,omitempty"`
	Policies     []string `json:"policies,omitempty"`
}

func (p CACreateParams) options() authority.CreateCAOptions {
	return authority.CreateCAOptions{ID: p.ID, Name: p.Name, ParentID: p.Parent, KeyAlgorithm: selo.KeyAlgorithm(p.KeyType),
		ValidityDays: p.ValidityDays, Organization: p.Organization, Country: p.Country, Policies: p.Policies}
}

// CAParams name one CA (ca.retire, keystore.destroy-ca-key).
type CAParams struct {
	CA string `json:"ca"`
}

// AdminGrantParams name the disabled operator account or API key with the
// admin role that an admin.grant proposal enables: exactly one of them.
type AdminGrantParams struct {
	Operator string `json:"operator,omitempty"`
	APIKey   string `json:"apikey,omitempty"`
}

// ProfileParams are a profile.set proposal's: the profile's name and its
// YAML file.
type ProfileParams struct {
	Name string `json:"name"`
	YAML string `json:"yaml"`
}

type executorFuncs struct {
	check   func(ctx context.Context, params json.RawMessage) error
	execute func(ctx context.Context, actor string, params json.RawMessage) (any, error)
}

func (e executorFuncs) Check(ctx context.Context, params json.RawMessage) error {
	return e.check(ctx, params)
}

func (e executorFuncs) Execute(ctx context.Context, actor string, params json.RawMessage) (any, error) {
	if err := e.check(ctx, params); err != nil {
		return nil, err
	}
	return e.execute(ctx, actor, params)
}

func builtinExecutors(s *Service) map[selo.ProposalKind]Executor {
	a := s.authority
	return map[selo.ProposalKind]Executor{
		selo.ProposalCACreate: executorFuncs{
			check: func(ctx context.Context, params json.RawMessage) error {
				var p CACreateParams
				if err := decodeParams(params, &p); err != nil {
					return err
				}
				switch {
				case p.ID == "" || p.Name == "":
					return selo.Errorf(selo.EINVALID, "ca.create needs id and name")
				case !selo.KeyAlgorithm(p.KeyType).Valid():
					return selo.Errorf(selo.EINVALID, "ca.create: unknown key_type %q", p.KeyType)
				case p.ValidityDays <= 0:
					return selo.Errorf(selo.EINVALID, "ca.create needs validity_days")
				}
				if _, err := s.store.FindCA(ctx, p.ID); err == nil {
					return selo.Errorf(selo.ECONFLICT, "a CA with id %q already exists", p.ID)
				}
				if p.Parent != "" {
					if _, err := s.store.FindCA(ctx, p.Parent); err != nil {
						return err
					}
				}
				return nil
			},
			execute: func(ctx context.Context, actor string, params json.RawMessage) (any, error) {
				var p CACreateParams
				if err := decodeParams(params, &p); err != nil {
					return nil, err
				}
				ca, err := a.CreateCA(ctx, actor, p.options())
				if err != nil {
					return nil, err
				}
				return map[string]string{"ca": ca.ID, "status": string(ca.Status)}, nil
			},
		},
		selo.ProposalCARetire: executorFuncs{
			check: func(ctx context.Context, params json.RawMessage) error {
				var p CAParams
				if err := decodeParams(params, &p); err != nil {
					return err
				}
				_, err := s.store.FindCA(ctx, p.CA)
				return err
			},
			execute: func(ctx context.Context, actor string, params json.RawMessage) (any, error) {
				var p CAParams
				if err := decodeParams(params, &p); err != nil {
					return nil, err
				}
				ca, err := a.RetireCA(ctx, actor, p.CA)
				if err != nil {
					return nil, err
				}
				return map[string]string{"ca": ca.ID, "status": string(ca.Status)}, nil
			},
		},
		selo.ProposalKeyDestroy: executorFuncs{
			check: func(ctx context.Context, params json.RawMessage) error {
				var p CAParams
				if err := decodeParams(params, &p); err != nil {
					return err
				}
				_, err := a.CheckDestroyCAKey(ctx, p.CA)
				return err
			},
			execute: func(ctx context.Context, actor string, params json.RawMessage) (any, error) {
				var p CAParams
				if err := decodeParams(params, &p); err != nil {
					return nil, err
				}
				if err := a.DestroyCAKey(ctx, actor, p.CA); err != nil {
					return nil, err
				}
				return map[string]string{"ca": p.CA, "key": "destroyed"}, nil
			},
		},
		selo.ProposalAdminGrant: executorFuncs{
			check: func(ctx context.Context, params json.RawMessage) error {
				_, err := s.checkAdminGrant(ctx, params)
				return err
			},
			execute: func(ctx context.Context, actor string, params json.RawMessage) (any, error) {
				p, err := s.checkAdminGrant(ctx, params)
				if err != nil {
					return nil, err
				}
				if p.Operator != "" {
					err = s.store.SetOperatorDisabled(ctx, p.Operator, false,
						s.audit(actor, "operator.enable", "operator/"+p.Operator, selo.OutcomeSuccess, map[string]string{"roles": "admin"}))
					return map[string]string{"operator": p.Operator, "enabled": "true"}, err
				}
				err = s.store.SetAPIKeyDisabled(ctx, p.APIKey, false,
					s.audit(actor, "apikey.enable", "apikey/"+p.APIKey, selo.OutcomeSuccess, map[string]string{"roles": "admin"}))
				return map[string]string{"apikey": p.APIKey, "enabled": "true"}, err
			},
		},
	}
}

func (s *Service) checkAdminGrant(ctx context.Context, params json.RawMessage) (*AdminGrantParams, error) {
	var p AdminGrantParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if (p.Operator == "") == (p.APIKey == "") {
		return nil, selo.Errorf(selo.EINVALID, "admin.grant names one operator or one apikey")
	}
	var roles []selo.Role
	var disabled bool
	if p.Operator != "" {
		op, err := s.store.FindOperator(ctx, p.Operator)
		if err != nil {
			return nil, err
		}
		roles, disabled = op.Roles, op.Disabled
	} else {
		key, err := s.findAPIKey(ctx, p.APIKey)
		if err != nil {
			return nil, err
		}
		roles, disabled = key.Roles, key.Disabled
	}
	if !selo.HasRole(roles, selo.RoleAdmin) || !disabled {
		return nil, selo.Errorf(selo.ECONFLICT, "admin.grant enables a disabled account or key that holds the admin role")
	}
	return &p, nil
}

// ProfileExecutor runs profile.set proposals by writing DATA/profiles/NAME.yaml
// in dir (the profiles directory), which replaces the built-in profile of
// that name. The file is validated with the same parser that loads it, and
// replaced atomically; the processes that issue read profiles when they
// start, so a change applies at their next restart.
func ProfileExecutor(dir string) Executor {
	check := func(_ context.Context, params json.RawMessage) error {
		var p ProfileParams
		if err := decodeParams(params, &p); err != nil {
			return err
		}
		prof, err := pki.LoadProfile([]byte(p.YAML))
		if err != nil {
			return err
		}
		if prof.Name != p.Name {
			return selo.Errorf(selo.EINVALID, "profile.set: the file names profile %q, not %q", prof.Name, p.Name)
		}
		return nil
	}
	return executorFuncs{
		check: check,
		execute: func(ctx context.Context, actor string, params json.RawMessage) (any, error) {
			var p ProfileParams
			if err := decodeParams(params, &p); err != nil {
				return nil, err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("make profiles directory: %w", err)
			}
			path := filepath.Join(dir, p.Name+".yaml")
			tmp, err := os.CreateTemp(dir, ".profile-*")
			if err != nil {
				return nil, fmt.Errorf("write profile: %w", err)
			}
			defer os.Remove(tmp.Name())
			if _, err := tmp.WriteString(p.YAML); err != nil {
				tmp.Close()
				return nil, fmt.Errorf("write profile: %w", err)
			}
			if err := tmp.Sync(); err != nil {
				tmp.Close()
				return nil, fmt.Errorf("write profile: %w", err)
			}
			if err := tmp.Close(); err != nil {
				return nil, fmt.Errorf("write profile: %w", err)
			}
			if err := os.Rename(tmp.Name(), path); err != nil {
				return nil, fmt.Errorf("write profile: %w", err)
			}
			return map[string]string{"profile": p.Name, "file": path, "applies": "at the next start of each process"}, nil
		},
	}
}
